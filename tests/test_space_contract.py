"""The space registry drives the space checks: every named check on every registered search space."""

import pytest

from archscore import list_spaces
from archscore.search import neighbours
from archscore.spaces import ChoiceSpace, get_space
from archscore.testing import SPACE_CHECKS, check_space_build, check_space_mutate, check_space_sample, space_for_tests

#: The built-in spaces: the registry must hold at least these (a space registered elsewhere joins the checks).
BUILT_IN = {"nb201", "nb101", "darts", "nb301", "tnb101_micro", "tnb101_macro", "nbgraph"}


def test_every_built_in_space_is_checked():
    assert BUILT_IN <= set(list_spaces())


@pytest.mark.parametrize("check", SPACE_CHECKS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("name", list_spaces())
def test_space_check(name, check):
    check(name, space_for_tests(name))


@pytest.mark.parametrize("name", list_spaces())
def test_search_neighbours_stay_in_the_space(name):
    space = space_for_tests(name)
    arch = space.sample(1, seed=5)[0]
    found = neighbours(space, arch)
    for child in found:
        s = space.to_string(child)
        assert s != space.to_string(arch) and space.from_string(s).spec == child.spec


# ------------------------------------------------------ the checks can fail
class _SameEverySample(ChoiceSpace):
    def sample(self, n, seed=0):
        return super().sample(1, seed=0) * n


class _MutateReturnsParent(ChoiceSpace):
    def mutate(self, arch, rng=None):
        return arch


def _choices(cls):
    import torch

    return cls("broken_space", {"width": [4, 8, 16], "depth": [1, 2]},
               build=lambda cfg, num_classes=10: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, num_classes)))


def test_sample_check_catches_an_ignored_seed():
    with pytest.raises(AssertionError, match="ignores its seed"):
        check_space_sample("broken_space", _choices(_SameEverySample))


def test_mutate_check_catches_the_parent():
    with pytest.raises(AssertionError, match="returned the parent"):
        check_space_mutate("broken_space", _choices(_MutateReturnsParent))


def test_build_check_catches_an_unseeded_builder():
    import torch

    calls = []

    def build(cfg, num_classes=10):
        calls.append(1)
        torch.manual_seed(len(calls))  # ignores the caller's seed: a different network every time
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, num_classes))

    space = ChoiceSpace("broken_space", {"width": [4, 8, 16]}, build=build)
    with pytest.raises(AssertionError, match="same torch.manual_seed gave different"):
        check_space_build("broken_space", space)


def test_build_check_catches_a_wrong_head():
    import torch

    space = ChoiceSpace("broken_space", {"width": [4, 8, 16]},
                        build=lambda cfg, num_classes=10: torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 10)))
    with pytest.raises(AssertionError, match="do not grow by one head row per class"):
        check_space_build("broken_space", space)


def test_nb201_space_passes_at_its_test_params():
    assert space_for_tests("nb201").C == 4 and get_space("nb201").C != 4

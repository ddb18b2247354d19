import pytest

from archscore import get_space


def test_round_trip_and_leaves_feed_output():
    space = get_space("nbgraph")
    arch = space.from_string("0,0,1,2:gcn,gat,sage,skip")
    assert space.to_string(arch) == "0,0,1,2:gcn,gat,sage,skip"
    # nodes 3 and 4 are leaves (nobody reads them): they feed the output
    assert sorted(arch.graph.predecessors(5)) == [3, 4]
    assert arch.key == "gat(x)+sage(gcn(x))"  # skip passes gat(x) through


def test_decode_hash_matches_package_hash():
    nbg = pytest.importorskip("nas_bench_graph")
    space = get_space("nbgraph")
    arch = nbg.Arch([0, 1, 1, 2], ["gin", "fc", "skip", "arma"])
    assert space.link_ops(space.decode_hash(arch.hash_arch())) == ([0, 1, 1, 2], ["gin", "fc", "skip", "arma"])


@pytest.mark.parametrize("bad, msg", [("0,0,1:gcn,gat,sage", "4 links"), ("0,0,3,2:gcn,gat,sage,skip", "link\\[2\\]"),
                                      ("0,0,1,2:gcn,gat,sage,mlp", "unknown NAS-Bench-Graph op"), ("gcn", "malformed")])
def test_bad_strings(bad, msg):
    with pytest.raises(ValueError, match=msg):
        get_space("nbgraph").from_string(bad)

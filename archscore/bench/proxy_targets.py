"""Published numbers and pass/fail targets of ``archscore bench proxies`` (data only, no logic).

Edit a number here, never in the protocols or the report.
"""

from __future__ import annotations

#: Published full-space Spearman on NAS-Bench-201 CIFAR-10: proxy -> (value, target column, source).
PUBLISHED: dict[str, tuple[float, str, str]] = {
    "grad_norm": (0.59, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "snip": (0.60, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "grasp": (0.51, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "fisher": (0.36, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "jacov": (0.73, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "synflow": (0.74, "test_acc_200ep", "Abdelfattah et al. 2021"),
    "nwot": (0.77, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "epe_nas": (0.70, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "zen": (0.35, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "params": (0.72, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "flops": (0.69, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "l2_norm": (0.68, "valid_acc_200ep", "NAS-Bench-Suite-Zero 2022"),
    "zico": (0.78, "test_acc_200ep", "Li et al. 2023 (ZiCo)"),
    "meco": (0.89, "test_acc_200ep", "Jiang et al. 2023 (MeCo)"),
    "zc:ensemble": (0.91, "test_acc_200ep", "AZ-NAS (Lee & Ham 2024), its own combination"),
    "az_nas": (0.91, "test_acc_200ep", "Lee & Ham 2024 (AZ-NAS)"),
}

#: Reference-code column of each proxy in the reference CSVs.
REF_COLUMNS: dict[str, str] = {
    "grad_norm": "ref_grad_norm",
    "snip": "ref_snip",
    "grasp": "ref_grasp",
    "fisher": "ref_fisher",
    "jacov": "ref_jacob_cov",
    "plain": "ref_plain",
    "synflow": "ref_synflow",
}

#: Hard protocol: minimum per-cell Spearman agreement of our scores with the reference code's.
AGREEMENT_TARGETS: dict[str, float] = {
    "grad_norm": 0.95,
    "snip": 0.95,
    "jacov": 0.95,
    "synflow": 0.95,
    "fisher": 0.85,
    "grasp": 0.80,
}

#: Hard protocol: our Spearman must reach the reference code's minus this margin.
REF_MARGIN = 0.03
#: Full protocol: our Spearman must lie within this distance of the published value.
PUBLISHED_MARGIN = 0.05
#: Hard protocol: minimum Spearman of ``zc:ensemble``.
ENSEMBLE_TARGET = 0.88
#: Cost protocol: the whole suite in one call costs at most this many forward+backward passes.
COST_TARGET = 8.0
#: Cost-resnet protocol: the whole suite on a CIFAR ResNet-18 costs at most this many forward+backward passes.
RESNET_COST_TARGET = 6.0

#: Files of the shared data folder the protocols read.
NB201_CSV = "nb201/nb201_cifar10.csv"
REF_CSV = "nb201/nb201_cifar10_ref_zc_200connected.csv"
CURVES_CSV = "nb201/nb201_cifar10_curves_200archs.csv"
IMAGES_NPZ = "cifar10/train5k.npz"

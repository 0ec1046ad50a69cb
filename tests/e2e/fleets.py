"""A run's records as a fleet's: what the page's selftests and bench/report.py measure it with."""

import copy


def fleet(records: list[dict], size: int) -> list[dict]:
    """The records copied under `size` names (docker://sc1 …): the target that fails least for
    most, each other target once (sc2, sc3, …), and, in a fleet larger than the run, one target
    in the middle that could not be observed at all."""
    by_target: dict[str, list[dict]] = {}
    for record in records:
        by_target.setdefault(record["target"], []).append(record)
    holding, *broken = sorted(by_target, key=lambda t: sum(r["verdict"] == "fail" for r in by_target[t]))
    kinds = {number: by_target[target] for number, target in enumerate(broken, 2)}
    if size > len(by_target):
        kinds[size // 2 + 1] = [{**r, "verdict": "error", "summary": "the container stopped before it was read",
                                 "evidence": {"host": [], "container": []}} for r in by_target[holding]]
    return [{**copy.deepcopy(r), "target": f"docker://sc{n}"} for n in range(1, size + 1)
            for r in kinds.get(n, by_target[holding])]

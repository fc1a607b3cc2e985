"""Every dial-plan key names the test that proves it (docs/dialplan.md shows it), and that test exists."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

from voxcenter.config.proofs import PROOFS, UNPROVEN, key_of
from voxcenter.config.reference import all_models

REPO = Path(__file__).resolve().parents[2]
WHERE = "voxcenter/config/proofs.py"
REGENERATE = "then run: python -m voxcenter.config.reference --write docs/dialplan.md"


def every_key() -> list[str]:
    return [key_of(model, path, name) for model, path in all_models().items() for name in model.model_fields]


@cache
def defined_tests(path: str) -> frozenset[str]:
    tree = ast.parse((REPO / path).read_text(encoding="utf-8"))
    return frozenset(node.name for node in tree.body
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"))


def test_every_key_names_its_proving_test_or_is_listed_unproven() -> None:
    keys = every_key()
    missing = [key for key in keys if key not in PROOFS and key not in UNPROVEN]
    assert not missing, (
        f"dial-plan keys no test is named for; add to PROOFS in {WHERE}, e.g.\n"
        + "\n".join(f'    "{key}": "tests/<dir>/test_<file>.py::test_<what it proves>",' for key in missing)
        + f"\n{REGENERATE}"
    )
    both = sorted(set(PROOFS) & UNPROVEN)
    assert not both, f"keys both proved and listed unproven in {WHERE} (remove them from UNPROVEN): {both}"
    stale = sorted((set(PROOFS) | UNPROVEN) - set(keys))
    assert not stale, f"entries in {WHERE} for keys the dial plan no longer has (remove them): {stale}"


def test_every_named_test_exists() -> None:
    wrong = []
    for key, proof in PROOFS.items():
        path, _, name = proof.partition("::")
        if not (REPO / path).is_file() or name not in defined_tests(path):
            wrong.append(f"{key}: {proof}")
    assert not wrong, f"PROOFS in {WHERE} names tests that do not exist (renamed? fix the entry):\n" + "\n".join(wrong)

"""Where a submission's deliverables live: the default paths per network id, which a rubric's
``deliverables:`` mapping may replace (globs allowed), and the formats each kind accepts."""

from __future__ import annotations

import glob
import itertools
import os
from dataclasses import dataclass, field
from pathlib import Path

#: kind -> default patterns, tried in order (``{net}`` is the grader's network id).
DEFAULT_PATHS: dict[str, tuple[str, ...]] = {
    "weights": ("results/{net}/weights.npz", "results/{net}/weights.pt", "results/{net}/weights.pth",
                "results/{net}/weights.pkl"),
    "confusion": ("results/{net}/confusion.csv", "results/{net}/confusion.npy"),
    "top3": ("results/{net}/top3.json",),
    "loss": ("results/{net}/loss.csv", "results/{net}/loss.json"),
    "tensorboard": ("results/{net}",),
    "metrics": ("results/{net}/metrics.json",),
    "cam": ("results/cam/{net}.npy",),
    "cam_sample": ("results/cam/sample.json",),
}

#: kind -> what the student should hand in, for messages (the README's "Deliverables" section).
FORMATS: dict[str, str] = {
    "weights": "the trained parameters as .npz (keys as in the network's params or the torch state_dict); "
               ".pt / .pkl are accepted and opened only inside the sandbox",
    "confusion": "a 10x10 CSV of counts (rows = true class, columns = predicted class) or a 10x10 .npy",
    "top3": 'JSON {"among": "all"|"class", "index": [[i, i, i], ... 10 rows], "prob": [[p, p, p], ... 10 rows]}',
    "loss": "CSV with the header epoch,train_loss,valid_loss, or JSON {\"train_loss\": [...], \"valid_loss\": [...]}, "
            "or TensorBoard event files with train_loss / valid_loss scalars",
    "tensorboard": "a TensorBoard run folder (scalars train_loss / valid_loss, or Keras' epoch_loss under "
                   "train/ and validation/)",
    "metrics": 'JSON {"test_accuracy": 0.9701}',
    "cam": "a 2-D .npy: the class activation map at the last conv layer's resolution or 28x28",
    "cam_sample": 'JSON {"index": 0, "class": 7}: the test image all CAMs were computed on, and the class',
}

#: Glob matches considered per pattern (a pattern matching thousands of files is a mistake).
MAX_MATCHES = 50


class ContractError(ValueError):
    """A rubric's ``deliverables:`` mapping that names an unknown kind or is not a path pattern."""


@dataclass(frozen=True)
class Contract:
    """Default paths, replaced kind by kind by a rubric's ``deliverables:`` mapping."""

    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_rubric(cls, mapping: dict | None) -> "Contract":
        """``{kind: "pattern" | ["pattern", ...]}``; unknown kinds are refused, naming the known ones."""
        overrides: dict[str, tuple[str, ...]] = {}
        for kind, value in (mapping or {}).items():
            if kind not in DEFAULT_PATHS:
                raise ContractError(f"deliverables: unknown kind {kind!r} (known: {', '.join(DEFAULT_PATHS)})")
            patterns = (value,) if isinstance(value, str) else tuple(value) if isinstance(value, (list, tuple)) else None
            if not patterns or not all(isinstance(p, str) and p for p in patterns):
                raise ContractError(f"deliverables.{kind}: give a path pattern or a list of them, not {value!r}")
            for p in patterns:
                if os.path.isabs(p) or ".." in Path(p).parts:
                    raise ContractError(f"deliverables.{kind}: {p!r} must be a path inside the submission")
            overrides[kind] = patterns
        return cls(overrides)

    def patterns(self, kind: str, net: str) -> tuple[str, ...]:
        return tuple(p.replace("{net}", net).replace("<network>", net)
                     for p in self.overrides.get(kind, DEFAULT_PATHS[kind]))

    def expected(self, kind: str, net: str) -> str:
        """The path(s) a message should name: 'results/x/confusion.csv or results/x/confusion.npy'."""
        return " or ".join(self.patterns(kind, net))

    def find(self, root: Path, kind: str, net: str) -> Path | None:
        """The first existing file (or, for ``tensorboard``, folder) of ``kind`` under ``root``.

        Symlinks are not followed out of the submission: a match must resolve inside ``root``."""
        root = Path(root)
        top = root.resolve()
        want_dir = kind == "tensorboard"
        for pattern in self.patterns(kind, net):
            if glob.has_magic(pattern):
                found = glob.iglob(pattern, root_dir=root, recursive=True)
                matches = sorted(itertools.islice(found, 20 * MAX_MATCHES))[:MAX_MATCHES]
            else:
                matches = [pattern]
            for rel in matches:
                path = root / rel
                try:
                    if path.is_symlink() or not path.resolve().is_relative_to(top):
                        continue
                    if (path.is_dir() if want_dir else path.is_file()):
                        return path
                except OSError:
                    continue
        return None

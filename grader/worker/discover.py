"""Import a student's submission and find the handout's layers and networks in it.

:func:`load_submission` is the pipeline; each step has a module of its own:

1. :mod:`.manifest` reads ``grader.toml`` / ``submission.yaml`` (unless the parent sent one);
2. :mod:`.loader` filters, converts and imports every file (:mod:`.stubs` stands in for missing
   display-only packages, :mod:`.tolerant` runs each file statement by statement);
3. :mod:`.matching` finds the handout's symbols by name (:mod:`.aliases`);
4. :mod:`.manifest` replaces what it maps; :mod:`.activation_option` builds the Leaky-ReLU
   network through the ReLU network's constructor option when there is no class for it;
5. :func:`.matching.explain_missing` says which failed statement would have defined a missing key.

The names other modules use (keys, :class:`Found`, :class:`Inventory`, :class:`DiscoveryError`)
are re-exported here.
"""

from __future__ import annotations

from pathlib import Path

from . import activation_option
from .aliases import LAYER_KEYS, NETWORK_KEYS, missing_message
from .inventory import DiscoveryError, FileStatus, Found, Inventory
from .loader import load_files
from .manifest import apply_manifest, read_manifest, resolve_symbol
from .matching import explain_missing, match_symbols

__all__ = ["LAYER_KEYS", "NETWORK_KEYS", "DiscoveryError", "FileStatus", "Found", "Inventory", "load_submission",
           "missing_message", "read_manifest", "resolve_symbol"]


def load_submission(root, manifest: dict | None = None, skip: dict[str, str] | None = None,
                    on_file=None) -> Inventory:
    """Filter, import and search a submission copy rooted at ``root`` (files are rewritten).

    ``manifest`` (sent by the parent) wins over the submission's own file. ``skip`` maps files
    (relative paths) to the reason they are not imported; ``on_file(rel)`` is called before each
    import (see :func:`.loader.load_files`).
    """
    inv = Inventory(Path(root).resolve())
    if manifest is None:
        manifest = read_manifest(inv.root, inv.warnings)
    manifest = manifest or {}
    load_files(inv, skip or {}, on_file)
    match_symbols(inv)
    apply_manifest(inv, manifest)
    activation_option.apply(inv, set(manifest.get("networks") or {}))
    explain_missing(inv)
    return inv

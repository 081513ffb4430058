"""The hostile corpus: every case in tests/hostile/cases is the sample submission's NumPy part
plus one attack or fault, graded end to end through the sandbox. Each must end exactly as listed: the
checks it breaks fail with a clear message, every other check still passes, the score is not
inflated, and (see ``grade_hostile``) the grader's process, its files and everything outside
the worker's copy are unharmed, with no process left behind."""

import dataclasses

import pytest

from grader.plan import Plan

from tests.hostile.conftest import LIMITS, POOLING, ROOT, grade_hostile, grade_network_case, not_passed

BACKWARD = ("layers.pooling.backward", "layers.pooling.gradcheck")


def broken(ids, status, text):
    return {i: (status, text) for i in ids}


HUNG_BACKWARD = "your backward gave no answer (your forward alone ran fine): 'layer_run' timed out after 4 s"
#: What the planted bug (Pooling.backward returns 2 dx) alone costs.
PLANTED_BUG = {"layers.pooling.backward": ("failed", "dx relative error 0.5"),
               "layers.pooling.gradcheck": ("failed", "your backward is not the derivative of your own forward")}

#: case -> {check id: (status, text in its message, or a tuple of alternatives)}; every check not
#: named must pass.
EXPECTED = {
    # time
    "loop_at_import": {"load": ("failed", "hostile.py: importing it (or a module it imports) did not finish: "
                                          "'load' timed out")},
    "sleep_at_import": {"load": ("failed", "hostile.py: importing it (or a module it imports) did not finish: "
                                           "'load' timed out")},
    "loop_in_backward": broken(BACKWARD, "error", HUNG_BACKWARD),
    "ignore_sigterm": broken(BACKWARD, "error", HUNG_BACKWARD),
    "print_forever": broken(BACKWARD, "error", HUNG_BACKWARD),
    # resources
    "memory_bomb": broken(POOLING, "error", "MemoryError: Unable to allocate 50.0 GiB"),
    "memory_creep": broken(BACKWARD, "error", "more than the memory limit of 700 MB"),
    "huge_array": broken(POOLING, "error", "array 'out' of shape (2, 128, 1024, 1024) holds 2048 MB, more than "
                                           "the 256 MB a reply may carry"),
    # the process watchdog, or on a loaded machine the call's time limit, or (as nobody) fork() itself
    "fork_bomb": broken(POOLING, "error", ("it started more than 64 processes", "'layer_run' timed out after 4 s",
                                           "BlockingIOError: [Errno 11] Resource temporarily unavailable")),
    "thread_bomb": broken(POOLING, "error", "RuntimeError: can't start new thread"),
    "recursion": broken(BACKWARD, "error", "RecursionError: maximum recursion depth exceeded (hostile.py, line 6"),
    "segfault": broken(BACKWARD, "error", "killed by SIGSEGV during 'layer_run'"),
    # exits
    # the statement is left out, the rest of the file still loads (issue 13)
    "exit_at_import": {"load": ("failed", "hostile.py, line 5 (class Bye:): raised SystemExit: 0")},
    "os_exit_at_import": {"load": ("failed", "hostile.py: importing it (or a module it imports) did not finish: "
                                             "the worker exited with code 0")},
    "exit_mid_check": broken(BACKWARD, "error", "your code raised SystemExit: 0 (hostile.py, line 6, in backward)"),
    "os_exit_mid_check": broken(BACKWARD, "error", "the worker exited with code 0 during 'layer_run'"),
    "keyboard_interrupt": broken(BACKWARD, "error", "your code raised KeyboardInterrupt"),
    # output
    "output_flood": {},
    # tampering: a planted bug (dx doubled) stays exactly as failed as without the cheats
    "monkeypatch_numpy": PLANTED_BUG,
    "patch_grader": {**PLANTED_BUG,
                     "integrity": ("failed", "hostile.py:19: imports the grader's grader package\n"
                                             "  - hostile.py:24: imports the grader's reference package")},
    "read_answers": {},
    "write_outside": {"integrity": ("failed", "hostile.py:31: reads the grader's file rubrics/pa2.yaml")},
    "delete_own_copy": broken(POOLING, "error", "the worker exited with code 1 during 'layer_run'"),
    "crafted_message": broken(POOLING, "error", "the worker sent a malformed reply (array 'out' has dtype object, "
                                                "which is never loaded)"),
    # a reply header of the wrong shape written onto the reply channel when the network is built
    "reply_header": {"two_layer_cnn.architecture": ("error", "could not construct your network: the worker's reply "
                                                             "to 'net_new' has the wrong shape (param_names: 5 is not "
                                                             "of type 'array')"),
                     "two_layer_cnn.logits": ("skipped", "skipped: could not construct your network"),
                     "two_layer_cnn.gradient": ("skipped", "skipped: could not construct your network")},
    # broken files
    "non_utf8": {},
    "syntax_error": {"load": ("failed", "broken.py: SyntaxError: invalid syntax (broken.py, line 4")},
    "notebook_invalid_json": {"load": ("failed", "PA2_draft.ipynb: not a valid notebook (the file is not JSON")},
    "notebook_wrong_version": {"load": ("failed", "PA2_old.ipynb: unsupported notebook format (Unsupported "
                                                  "nbformat version 99); save it again with Jupyter or Colab")},
}


def assert_outcome(report, expected):
    outcome = {c.id: c for c in report.checks}
    assert set(not_passed(report)) == set(expected), not_passed(report)
    for check_id, (status, texts) in expected.items():
        assert outcome[check_id].status == status, (check_id, outcome[check_id].message)
        texts = (texts,) if isinstance(texts, str) else texts  # alternatives: whichever limit fired first
        assert any(text in outcome[check_id].message for text in texts), (check_id, outcome[check_id].message)
    # a clean sample scores every point of the plan; each broken check costs exactly its own
    assert report.score == sum(c.max_score for c in report.checks) - sum(outcome[i].max_score for i in expected)


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_hostile_case(case, world):
    report = grade_hostile(case, world, PORT=0, HOST_IP="127.0.0.1", KIND=CASE_KIND.get(case, ""))
    assert_outcome(report, EXPECTED[case])
    assert report.sandbox["isolation"] == "bwrap" or any("isolation" in n for n in report.sandbox["notes"])
    assert len(report.output) < 200_000  # 64 KB per stream and a note, however much was printed
    check_output = CASE_OUTPUT.get(case)
    if check_output:
        check_output(report)


def _flood(report):
    assert "bytes truncated" in report.output


def _nothing_leaked(report):
    assert "LEAKED" not in report.output
    assert f"hidden {ROOT}/rubrics" in report.output and f"hidden {ROOT}/reference/layers.py" in report.output


def _nothing_written(report):
    lines = [line for line in report.output.splitlines() if line.startswith(("WROTE", "refused"))]
    assert len(lines) == 9 and [line for line in lines if line.startswith("WROTE")] == ["WROTE own copy"], lines


def _hidden_packages(report):
    assert "grader hidden: No module named 'grader'" in report.output
    assert "reference hidden: No module named 'reference'" in report.output


def _latin1_warning(report):
    assert any("helpers.py: not valid UTF-8" in w and "latin-1" in w for w in report.warnings), report.warnings


CASE_KIND = {"reply_header": "param_names"}
CASE_OUTPUT = {"output_flood": _flood, "print_forever": _flood,
               "read_answers": _nothing_leaked, "write_outside": _nothing_written, "patch_grader": _hidden_packages,
               "non_utf8": _latin1_warning}


#: Pooling.forward returns garbage of one kind: the forward check (and the backward ones, which
#: need the forward) error with a message naming the problem; nothing else changes.
GARBAGE = {
    "wrong_dtype": "dtype <U32 is not a number",
    "complex": "complex",
    "wrong_shape": "shape",
    "nan": "NaN",
    "inf": "inf",
    "object": "array 'out' has dtype object (not numbers) and cannot be sent",
    "zero_d": "0-d",
    "not_an_array": "array 'out' has dtype object (not numbers) and cannot be sent",
}


@pytest.mark.parametrize("kind", sorted(GARBAGE))
def test_garbage_outputs_are_refused_with_a_reason(kind, world):
    report = grade_hostile("garbage_outputs", world, KIND=kind)
    assert_outcome(report, broken(POOLING, "error", GARBAGE[kind]))


def test_an_ndarray_subclass_that_claims_equality_is_compared_as_plain_numbers(world):
    """Its __eq__ and __sub__ lie; the grader sees the zeros it really holds."""
    report = grade_hostile("garbage_outputs", world, KIND="subclass")
    assert_outcome(report, {"layers.pooling.forward": ("failed", "relative error 1"),
                            "layers.pooling.gradcheck": ("failed", "not the derivative of your own forward")})


def test_network_is_unreachable(world):
    report = grade_network_case(world)
    assert_outcome(report, {})
    assert report.output.count("blocked") == 4, report.output


@pytest.mark.parametrize("kind, where", [("files", "files: 5 is not of type 'array'"),
                                         ("layers", "layers/affine: 5 is not of type 'object'")])
def test_a_load_reply_of_the_wrong_shape_fails_the_load_not_the_grader(kind, where, world):
    """Written at import, it is taken for the reply to 'load': the load errors, naming the field."""
    report = grade_hostile("reply_header", world, KIND=kind)
    load = report.by_id()["load"]
    assert load.status == "error"
    assert load.message == (f"your submission could not be loaded: the worker's reply to 'load' has the wrong shape "
                            f"({where}); was something written onto the grader's reply channel? The worker is replaced")
    assert report.score == 0 and report.files == []
    assert {c.status for c in report.checks if c.id not in ("integrity", "load")} == {"failed"}


#: The MLP, briefly trained: what a verdict on learning needs.
TRAINING_PLAN = Plan("training", layers=(), networks=("three_layer_nn",),
                     network_checks=("architecture", "initial_loss", "training"))


def test_a_network_that_reads_the_labels_it_is_judged_on_gains_nothing(world, data_dir):
    """Only held-out images cross into the sandbox: its 'answers' are its own untrained guesses, so the
    held-out loss does not fall and training fails; the initial loss, computed by the grader from the
    logits of a fresh network, passes."""
    limits = dataclasses.replace(LIMITS, call_timeout=30)  # importing torch is not what this case is about
    report = grade_hostile("reads_labels", world, plan=TRAINING_PLAN, data_dir=data_dir, limits=limits)
    assert not_passed(report) == {"three_layer_nn.training": "failed"}, not_passed(report)
    training = report.by_id()["three_layer_nn.training"]
    assert "the loss does not go down" in training.message, training.message
    assert training.figures["loss_before"] == training.figures["loss_after"]  # a zero gradient changes nothing
    assert training.figures["accuracy"] < 0.2 < training.figures["reference_accuracy"]

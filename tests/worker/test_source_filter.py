"""Top-level filtering: definitions stay, training/plotting/downloading goes, lines stay put."""

import textwrap
import traceback

import pytest

from grader.worker.source_filter import SourceError, decode_source, filter_source


def run(source: str, filename="student.py") -> tuple[dict, list[dict], str]:
    kept, dropped = filter_source(textwrap.dedent(source), filename)
    namespace = {"__name__": "student"}
    exec(compile(kept, filename, "exec"), namespace)
    return namespace, dropped, kept


def kinds(dropped):
    return [(d["line"], d["kind"]) for d in dropped]


def test_dlfs_training_script_keeps_definitions_and_drops_the_run():
    ns, dropped, kept = run("""\
        import sys, os
        sys.path.append(os.pardir)
        import numpy as np
        from collections import OrderedDict

        (x_train, t_train), (x_test, t_test) = load_mnist(flatten=False)
        max_epochs = 20
        network = SimpleConvNet(input_dim=(1, 28, 28),
                                hidden_size=100)
        trainer = Trainer(network, x_train, t_train, epochs=max_epochs)
        trainer.train()
        print("done")

        class Net:
            def __init__(self):
                self.layers = OrderedDict()

        def helper(x):
            return x * 2

        if __name__ == "__main__":
            helper(1)
        """)
    assert ns["max_epochs"] == 20 and ns["helper"](2) == 4 and isinstance(ns["Net"]().layers, dict)
    assert os_pardir_added(ns)
    assert "network" not in ns and "trainer" not in ns
    assert kinds(dropped) == [(6, "assignment"), (8, "assignment"), (10, "assignment"), (11, "expression"),
                              (12, "expression"), (21, "main_guard")]
    assert dropped[1]["text"] == "network = SimpleConvNet(input_dim=(1, 28, 28),"


def os_pardir_added(ns):
    import os
    import sys
    try:
        return sys.path[-1] == os.pardir
    finally:
        if sys.path[-1] == os.pardir:
            sys.path.pop()


def test_line_numbers_are_preserved_in_tracebacks():
    ns, _, kept = run("""\
        data = download()
        for i in range(3):
            print(i)

        def fails(x):
            y = x + 1
            raise ValueError("student bug")
        """)
    assert kept.count("\n") == 7
    with pytest.raises(ValueError) as info:
        ns["fails"](1)
    frames = traceback.extract_tb(info.tb)
    assert (frames[-1].filename, frames[-1].lineno) == ("student.py", 7)


def test_semicolons_and_multiline_statements():
    ns, dropped, kept = run("""\
        a = 1; print(a); b = 2
        plt.plot(
            [1, 2]); c = 3
        d = 4
        """)
    assert (ns["a"], ns["b"], ns["c"], ns["d"]) == (1, 2, 3, 4)
    assert [d["text"] for d in dropped] == ["print(a)", "plt.plot("]
    assert kept.split("\n")[3] == "d = 4"


def test_non_ascii_columns_are_handled_as_bytes():
    ns, dropped, _ = run("라벨 = '숫자'; show(라벨); 크기 = 3  # 한글 주석\n")
    assert ns["라벨"] == "숫자" and ns["크기"] == 3
    assert dropped[0]["text"] == "show(라벨)"


def test_cheap_expressions_are_kept_and_expensive_calls_dropped():
    ns, dropped, _ = run("""\
        import os, torch
        from pathlib import Path
        import torch.nn as nn
        import numpy as np
        from collections import namedtuple
        ROOT = Path(__file__).resolve().parent if "__file__" in dir() else Path(".")
        DATA = os.path.join(os.path.dirname("/a/b"), "mnist")
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        Shape = namedtuple("Shape", ["c", "h", "w"])
        sizes = [n * 2 for n in range(3)]
        act = lambda x: np.maximum(0, x)
        DTYPE = np.float64
        std = np.sqrt(2.0 / 784)
        config = {"lr": 0.1, "epochs": 3, "shape": (1, 28, 28)}
        conv = nn.Conv2d(1, 20, 5)
        W = np.random.randn(784, 100)
        model = torch.load("model.pt")
        """)
    for name in ("DATA", "device", "Shape", "sizes", "act", "DTYPE", "std", "config"):
        assert name in ns, name
    assert ns["sizes"] == [0, 2, 4] and ns["device"].type in ("cpu", "cuda")
    assert [d["text"].split(" =")[0] for d in dropped] == ["ROOT", "conv", "W", "model"]


def test_if_with_cheap_test_keeps_its_cheap_body():
    ns, dropped, kept = run("""\
        import torch
        if torch.cuda.is_available():
            device = "cuda"
            print("gpu")
        elif False:
            device = "mps"
        else:
            device = "cpu"
        if load_data():
            x = 1
        if torch.cuda.is_available():
            print("only prints")
        """)
    assert ns["device"] in ("cuda", "cpu") and "x" not in ns
    assert kinds(dropped) == [(4, "expression"), (9, "if"), (11, "if")]
    assert kept.split("\n")[3].strip() == "pass"


def test_try_around_imports_is_kept():
    ns, dropped, _ = run("""\
        try:
            import surely_not_installed_module as m
            print("imported")
        except ImportError:
            m = None
        try:
            train()
        except Exception:
            pass
        """)
    assert ns["m"] is None
    assert kinds(dropped) == [(3, "expression"), (6, "try")]


def test_statements_reading_dropped_names_are_dropped_too():
    ns, dropped, _ = run("""\
        (x_train, t_train), _ = load_mnist()
        x_train = x_train / 255.0
        n = len(x_train)
        n_ok = 3
        x_train = None
        again = x_train
        def uses_it():
            return x_train_small
        """)
    assert kinds(dropped) == [(1, "assignment"), (2, "depends_on_dropped"), (3, "depends_on_dropped")]
    assert ns["n_ok"] == 3 and ns["again"] is None


def test_syntax_error_is_reported_with_position():
    with pytest.raises(SourceError) as info:
        filter_source("x = 1\ndef broken(:\n    pass\n", "bad.py")
    assert info.value.line == 2 and info.value.col and "SyntaxError" in str(info.value)
    assert "bad.py, line 2" in str(info.value)


def test_ipython_lines_in_an_exported_script_are_dropped():
    ns, dropped, _ = run("!pip install torch\n%matplotlib inline\nimport math\nif True:\n    %time x = 1\ny = 2\n")
    assert ns["y"] == 2
    assert kinds(dropped) == [(1, "shell"), (2, "magic"), (4, "if"), (5, "magic")]


def test_decoding_utf8_cookie_and_latin1():
    text, warnings = decode_source("x = '한글'\n".encode("utf-8"))
    assert text == "x = '한글'\n" and not warnings
    euc = "# -*- coding: euc-kr -*-\nx = '한글'\n".encode("euc-kr")
    text, warnings = decode_source(euc)
    assert "'한글'" in text and "coding: utf-8" in text and not warnings
    text, warnings = decode_source(b"x = '\xe9t\xe9'\n", "old.py")
    assert text == "x = 'été'\n" and "old.py" in warnings[0] and "latin-1" in warnings[0]

"""Generate the notebook fixtures: notebook_colab/PA2.ipynb, notebook_failed_import/PA2.ipynb,
notebooks_importing/*.ipynb and notebook_corpus/*.ipynb.

The layer and network code in the notebook is copied from submissions/sample at generation
time (so the corpus keeps one implementation); the surrounding cells are what a Colab
submission looks like: shell and magic lines, Google Drive mounting, and training and plotting
at top level. Run from anywhere: `python tests/submissions/make_notebook.py`; the output is
deterministic (fixed cell ids, no outputs), so regenerating leaves git clean.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parents[1] / "submissions" / "sample"
OUT = HERE / "notebook_colab" / "PA2.ipynb"


def module_body(path: Path) -> str:
    """The file's text without the encoding line and the imports of the `common` package."""
    keep = [line for line in path.read_text(encoding="utf-8").splitlines()
            if not line.startswith(("# coding", "from common", "import common"))]
    return "\n".join(keep).strip() + "\n"


def class_source(path: Path, name: str) -> str:
    """The source of one top-level class of a file."""
    text = path.read_text(encoding="utf-8")
    for node in ast.parse(text).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return ast.get_source_segment(text, node) + "\n"
    raise LookupError(f"class {name} not found in {path}")


TRAIN = '''\
data_path = '/content/drive/MyDrive/mnist'

def load_mnist(path, kind='train'):
    prefix = 't10k' if kind == 'test' else 'train'
    with gzip.open(os.path.join(path, prefix + '-images-idx3-ubyte.gz'), 'rb') as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(path, prefix + '-labels-idx1-ubyte.gz'), 'rb') as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return images / 255.0, labels

x_train, t_train = load_mnist(data_path, 'train')
x_test, t_test = load_mnist(data_path, 'test')

network = TwoLayerCNN()
optimizer = SGD(lr=0.1)
batch_size, epochs = 100, 3
train_loss_list = [network.loss(x_train[:500], t_train[:500])]
valid_loss_list = [network.loss(x_test[:500], t_test[:500])]
for epoch in range(epochs):
    idx = np.random.permutation(len(x_train))
    for i in range(len(x_train) // batch_size):
        batch = idx[i * batch_size:(i + 1) * batch_size]
        grads = network.gradient(x_train[batch], t_train[batch])
        optimizer.update(network.params, grads)
    train_loss_list.append(network.loss(x_train[:500], t_train[:500]))
    valid_loss_list.append(network.loss(x_test[:500], t_test[:500]))
    print('epoch', epoch + 1, train_loss_list[-1], valid_loss_list[-1])
print('test acc:', network.accuracy(x_test, t_test))
'''

PLOT = '''\
plt.plot(range(len(train_loss_list)), train_loss_list, marker='o', label='train_loss')
plt.plot(range(len(valid_loss_list)), valid_loss_list, marker='s', label='valid_loss')
plt.xlabel('epoch')
plt.ylabel('loss')
plt.legend()
plt.show()
'''


def build() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# SE395 PA2 - 2-layer CNN (numpy)\n\n"
                          "MNIST gz 파일 4개를 Google Drive의 `MyDrive/mnist`에 올려 두고 실행합니다."),
        new_code_cell("!pip install torch"),
        new_code_cell("%matplotlib inline"),
        new_code_cell("from google.colab import drive\ndrive.mount('/content/drive')"),
        new_code_cell("import os\nimport gzip\nimport numpy as np\nimport matplotlib.pyplot as plt\n"
                      "from collections import OrderedDict"),
        new_markdown_cell("## 함수, im2col"),
        new_code_cell(module_body(SAMPLE / "common" / "functions.py")),
        new_code_cell(module_body(SAMPLE / "common" / "util.py")),
        new_markdown_cell("## 계층 (Layers)"),
        new_code_cell(module_body(SAMPLE / "common" / "layers.py")),
        new_code_cell(module_body(SAMPLE / "common" / "optimizer.py")),
        new_markdown_cell("## 2-layer CNN\nconv 20@5x5 → ReLU → conv 40@10x10 → ReLU → Affine(9000→10)"),
        new_code_cell(class_source(SAMPLE / "pa2" / "networks.py", "TwoLayerCNN")),
        new_markdown_cell("## 학습"),
        new_code_cell(TRAIN),
        new_code_cell(PLOT),
    ]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"
        if cell["cell_type"] == "code":
            cell["source"] = cell["source"].rstrip("\n")
    nb = new_notebook(cells=cells, metadata={
        "colab": {"name": "PA2.ipynb", "provenance": []},
        "kernelspec": {"display_name": "Python 3", "name": "python3"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(nb)
    return nb


def file_text(path: Path) -> str:
    """The whole file without its encoding line (its imports of `common` stay)."""
    return "\n".join(ln for ln in path.read_text(encoding="utf-8").splitlines()
                     if not ln.startswith("# coding")).strip() + "\n"


def notebook(cells: list, name: str) -> nbformat.NotebookNode:
    """A Colab-like notebook of these cells with fixed ids (the output is deterministic)."""
    cells = [new_code_cell(c) if isinstance(c, str) else c for c in cells]
    for i, cell in enumerate(cells):
        cell["id"] = f"cell-{i:02d}"
        if cell["cell_type"] == "code":
            cell["source"] = cell["source"].rstrip("\n")
    nb = new_notebook(cells=cells, metadata={"colab": {"name": name, "provenance": []},
                                             "kernelspec": {"display_name": "Python 3", "name": "python3"},
                                             "language_info": {"name": "python"}})
    nbformat.validate(nb)
    return nb


def build_failed_import() -> nbformat.NotebookNode:
    """The textbook's layers.py pasted whole into one cell, `from common... import` lines included
    (common/ stayed on the student's Drive); im2col/col2im defined in an earlier cell, the loss
    functions in a later one; ThreeLayerCNN imported from the textbook's package, not written."""
    return notebook([
        "from google.colab import drive\ndrive.mount('/content/drive')",
        "import sys, os\nsys.path.append('/content/drive/MyDrive/deep-learning-from-scratch')\n"
        "import numpy as np\nfrom collections import OrderedDict",
        module_body(SAMPLE / "common" / "util.py"),
        file_text(SAMPLE / "common" / "layers.py"),
        module_body(SAMPLE / "common" / "functions.py"),
        module_body(SAMPLE / "common" / "optimizer.py"),
        "from common.networks import ThreeLayerCNN\nfrom common.trainer import Trainer",
        class_source(SAMPLE / "pa2" / "networks.py", "TwoLayerCNN"),
        TRAIN.replace("data_path = '/content/drive/MyDrive/mnist'", "data_path = 'mnist'"),
    ], "PA2.ipynb")


def build_importing() -> dict[str, nbformat.NotebookNode]:
    """Notebooks that import each other through `import import_ipynb` (and one `%run`)."""
    return {
        "functions.ipynb": notebook(["import numpy as np", module_body(SAMPLE / "common" / "functions.py")],
                                    "functions.ipynb"),
        "util.ipynb": notebook(["import numpy as np", module_body(SAMPLE / "common" / "util.py")], "util.ipynb"),
        "layers.ipynb": notebook([
            "!pip install import-ipynb",
            "import import_ipynb\nimport numpy as np\nfrom functions import *\nfrom util import im2col, col2im",
            module_body(SAMPLE / "common" / "layers.py")], "layers.ipynb"),
        "networks.ipynb": notebook([
            "import import_ipynb\nimport numpy as np\nfrom collections import OrderedDict\nfrom layers import *",
            class_source(SAMPLE / "pa2" / "networks.py", "TwoLayerCNN")], "networks.ipynb"),
        "train.ipynb": notebook([
            "%run networks.ipynb",
            "%run optimizer.ipynb",
            "import gzip",
            TRAIN.replace("data_path = '/content/drive/MyDrive/mnist'", "data_path = 'mnist'")], "train.ipynb"),
        "optimizer.ipynb": notebook(["import numpy as np", module_body(SAMPLE / "common" / "optimizer.py")],
                                    "optimizer.ipynb"),
    }


#: Notebook shapes whose code cells are valid Python once magics and shell lines are dropped:
#: each converts to source that compiles (tests/worker/test_notebook.py).
CORPUS = {
    "indented_cells": ["    import numpy as np\n    def f(x):\n        return x + 1",
                       "\tdef g(x):\n\t\treturn 2 * x", "  # a comment first\n  y = 1"],
    "cell_ends_inside_a_block": ["def f(x):\n    if x:\n        return 1\n    # more below\n    ",
                                 "    # an indented comment starts the next cell\nclass A:\n    pass\n        "],
    "cell_magics": ["%%time\nclass Relu:\n    def forward(self, x):\n        return x",
                    "%%capture out\nimport numpy as np", "%%bash\nls -l\nif [ 1 ]; then echo; fi",
                    "%%writefile util.py\ndef im2col(): pass", "%%timeit -n 1\nz = 3"],
    "shell_lines_in_blocks": ["def setup():\n    !pip install torch\n    %cd /content\n    return 1",
                              "for i in range(2):\n    !echo $i\nfiles = !ls\nif True:\n    %time x = 1"],
    "crlf": ["import numpy as np\r\n\r\ndef f(x):\r\n    return x\r\n", "class A:\r    pass\r"],
    "tabs": ["def f(x):\n\tif x:\n\t\treturn 1\n\treturn 0", "class T:\n\tdef m(self):\n\t\treturn 1"],
    "non_ascii_names": ["학습률 = 0.1\ndef 손실(x):\n    return x * 학습률", "class Écoute:\n    π = 3.14",
                        "# 주석만 있는 셀"],
    "future_import_later": ["import numpy as np", "from __future__ import annotations\ndef f(x: Later) -> Later:\n"
                                                  "    return x"],
    "empty_and_odd_cells": ["", "   ", "\n\n", "x = 1;", "if True: pass"],
}


def build_corpus() -> dict[str, nbformat.NotebookNode]:
    return {f"{name}.ipynb": notebook(cells, f"{name}.ipynb") for name, cells in CORPUS.items()}


def main() -> None:
    outputs = {OUT: build(), HERE / "notebook_failed_import" / "PA2.ipynb": build_failed_import()}
    outputs.update({HERE / "notebooks_importing" / k: v for k, v in build_importing().items()})
    outputs.update({HERE / "notebook_corpus" / k: v for k, v in build_corpus().items()})
    for path, nb in outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        print(f"wrote {path}")


if __name__ == "__main__":
    main()

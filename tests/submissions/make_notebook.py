"""Generate the Colab-style notebook fixture notebook_colab/PA2.ipynb.

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


def main() -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(build(), str(OUT))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()

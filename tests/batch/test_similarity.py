"""Similarity: near-copies are listed with their matching lines; code everyone was given is not."""

from grader import similarity

from .conftest import relu_source

OWN = '''
def im2col_by_{who}(x, k):
    rows = []
    for i in range(x.shape[0] - k + 1):
        for j in range(x.shape[1] - k + 1):
            patch = x[i:i + k, j:j + k]
            rows.append(patch.reshape(-1))
    total = 0
    for r in rows:
        total = total + r.sum() * {factor}
    return rows, total
'''

OTHER = '''
import numpy as np

def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)

class Sigmoid:
    def forward(self, x):
        self.out = 1 / (1 + np.exp(-x))
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out
'''


def test_two_near_copies_are_paired_and_the_boilerplate_is_left_out(tmp_path):
    given = tmp_path / "given"
    given.mkdir()
    (given / "layers.py").write_text(relu_source("the textbook"))
    subs = []
    for sid, code in (("ann", OWN.format(who="ann", factor=2)), ("ben", OWN.format(who="ben", factor=3)),
                      ("cat", OTHER)):
        folder = tmp_path / "class" / sid
        folder.mkdir(parents=True)
        (folder / "layers.py").write_text(relu_source("the textbook"))  # everyone hands in the given layer
        (folder / "work.py").write_text(code)
        subs.append((sid, folder))
    pairs = similarity.run(subs, tmp_path / "out", boilerplate=given, threshold=0.5)
    assert [(p.a, p.b) for p in pairs] == [("ann", "ben")]
    pair = pairs[0]
    assert pair.file_a == pair.file_b == "work.py" and pair.similarity > 0.5
    assert pair.lines_a and pair.lines_a.split("-")[0].isdigit()
    csv_text = (tmp_path / "out" / "similarity.csv").read_text()
    assert csv_text.splitlines()[1].startswith("ann,ben,")
    assert "highlight" in (tmp_path / "out" / "similarity.html").read_text()

    plain = similarity.run(subs, tmp_path / "out2", boilerplate=None, threshold=0.5)
    assert ("ann", "cat") in {(p.a, p.b) for p in plain}  # without it, the given layer pairs everyone

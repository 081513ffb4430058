"""The HTML feedback page: self-contained, escaped, figures embedded, and it renders in a browser."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from grader.report import html_report
from tests.report.sample_reports import layers_only_report, sample_report

UNTRUSTED = "<script>alert('x')</script> & [/]"


def fake_mnist(indices):
    """Digit-like test images (a bright ring whose size follows the index), no data files needed."""
    yy, xx = np.mgrid[:28, :28]
    r = np.hypot(yy - 14, xx - 14)
    return np.stack([np.clip(1 - abs(r - 4 - i % 6) / 2, 0, 1) for i in indices])


@pytest.fixture(scope="module")
def page():
    """The sample report's page, drawn once (matplotlib takes seconds on a loaded machine)."""
    return html_report.render(sample_report(UNTRUSTED), fake_mnist)


def test_submission_text_is_escaped(page):
    assert "<script" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; [/]" in page


def test_page_is_self_contained(page):
    assert re.findall(r"https?://", page) == []
    assert all(src.startswith("data:image/png;base64,") for src in re.findall(r'src="([^"]*)"', page))
    assert "href=" not in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_each_deliverable_gets_its_picture(page):
    alts = re.findall(r'<img alt="([^"]*)"', page)
    assert [a.split(":")[0] for a in alts] == ["three_layer_cnn.confusion_matrix", "three_layer_cnn.loss_log",
                                               "three_layer_cnn.top3", "three_layer_cnn.cam"]
    assert "reported 98.10%, measured by the grader 97.60%" in page
    assert 'id="what-to-fix"' in page and "scatters into every window" in page


def test_without_mnist_the_pictures_that_need_it_degrade_gracefully():
    report = sample_report()
    report.checks = [c for c in report.checks if c.id.endswith((".top3", ".cam"))]
    page = html_report.render(report, images=None)
    alts = [a.split(":")[0] for a in re.findall(r'<img alt="([^"]*)"', page)]
    assert "three_layer_cnn.top3" not in alts and "three_layer_cnn.cam" in alts  # CAM without its digit
    assert "three_layer_cnn.top3: no picture (the MNIST test images are not available here)" in page


def test_malformed_figures_are_a_note_not_a_crash():
    report = sample_report()
    cm = next(c for c in report.checks if c.id.endswith("confusion_matrix"))
    cm.figures = {"matrix": "not numbers <b>"}
    loss = next(c for c in report.checks if c.id.endswith("loss_log"))
    loss.figures = {"train": [[1, 2], [3]]}
    report.checks = [cm, loss]
    page = html_report.render(report, fake_mnist)
    assert "three_layer_cnn.confusion_matrix: no picture (matrix is not an array of numbers)" in page
    assert "three_layer_cnn.loss_log: no picture" in page


def test_mnist_loader_reads_by_index_and_says_none_when_out_of_range(tiny_idx_dataset):
    load = html_report.mnist_test_images(tiny_idx_dataset.dir)
    images = load([0, 3])
    assert images.shape == (2,) + tiny_idx_dataset.size
    assert load([10_000]) is None


# ---------------------------------------------------------------------------- in a browser
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# where the CI installs the browser (.ci/run: apt-get install chromium); elsewhere it may be absent
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

PROBE = """<script>window.addEventListener("load", () => {
  const imgs = [...document.images].map(i => ({alt: i.alt, w: i.naturalWidth, h: i.naturalHeight, done: i.complete}));
  const p = document.createElement("pre"); p.id = "probe"; p.textContent = JSON.stringify(imgs);
  document.body.appendChild(p);
});</script>"""


def chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
           "--hide-scrollbars", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@needs_chromium
def test_the_page_renders_in_headless_chromium(tmp_path, page):
    (tmp_path / "out").mkdir()
    page_file = tmp_path / "out" / "index.html"
    page_file.write_text(page, encoding="utf-8")
    # a copy with a probe script (the page itself runs none: its CSP forbids scripts) reads the images
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
                     .replace("</body>", PROBE + "</body>"))
    dom = chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom", probe.as_uri())
    assert "Feedback for sample" in dom and "What to fix" in dom and "2 hidden checks, 1/3 points" in dom
    images = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S).group(1).replace("&quot;", '"'))
    assert len(images) == 4
    assert all(i["done"] and i["w"] > 100 and i["h"] > 100 for i in images), images

    shot = tmp_path / "page.png"
    chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,2400", page_file.as_uri())
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (2400, 1200)
    assert pixels.std() > 0.05  # not one colour
    colours = np.unique((pixels[::4, ::4] * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) > 200  # text, tables and heatmaps, not a blank or an error page


@needs_chromium
def test_a_report_without_figures_renders_too(tmp_path):
    page = html_report.write(layers_only_report(), tmp_path / "out")
    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert "layers.relu.forward" in dom and "score 1 / 1" in dom and "<img" not in dom

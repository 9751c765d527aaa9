"""Artifacts, lineage and the registry in the browser.

A real server fed by the real SDK: a pipeline script logs dataset -> train -> model -> eval ->
predictions (two dataset versions to compare, a registry link with a protected alias) and the
browser reads it back: the artifacts browser, file previews, the diff of two versions, the
lineage graph (nodes and edges from the SVG's data attributes, expansion, navigation, the
registered model the versions are linked into) and the registry page. User data carries markup that must stay inert text.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

import kiseki
from tests.conftest import ServerProcess, run_script
from tests.e2e.conftest import screenshot
from tests.e2e.helpers import log_runs, open_app
from tests.e2e.test_run_page import run_ids

XSS = '<img src=x onerror="window.__xss=1;alert(1)">'
NOTES = '{"note": "' + XSS.replace('"', '\\"') + '",\n "n": 1}\n'
LABELS_V0 = "id,label\n0,cat\n"
LABELS_V1 = "id,label\n0,dog\n"
EVAL_NAME = "evaluate <b>bold</b>"
WIDE = 99  # a run using 99 data sets and making 99 models: 200 nodes around it

WIDE_SCRIPT = f"""
with kiseki.init(project="wide", name="prepare") as run:
    parts = []
    for i in range({WIDE}):
        part = kiseki.Artifact(f"part-{{i:02d}}", type="dataset")
        with part.new_file("x.txt") as f:
            f.write(str(i))
        run.log_artifact(part)
        parts.append(part)
    for part in parts:
        part.wait()
with kiseki.init(project="wide", name="train-all") as run:
    models = []
    for i in range({WIDE}):
        run.use_artifact(f"part-{{i:02d}}:latest")
        model = kiseki.Artifact(f"model-{{i:02d}}", type="model")
        with model.new_file("w.txt") as f:
            f.write(str(i))
        run.log_artifact(model)
        models.append(model)
    for model in models:
        model.wait()
"""

PIPELINE = f"""
import json, os, shutil
import numpy as np
XSS = {XSS!r}
os.makedirs("data/images", exist_ok=True)
for i in range(3):
    with open(f"data/images/{{i}}.txt", "w") as f:
        f.write(f"image {{i}}")
with open("data/labels.csv", "w") as f:
    f.write({LABELS_V0!r})
with open("data/notes.json", "w") as f:
    f.write({NOTES!r})
with open("data/page.html", "w") as f:
    f.write(XSS)
with open("data/blob.bin", "wb") as f:
    f.write(bytes(range(256)))
sample = np.zeros((8, 12, 3), np.uint8)
sample[..., 0] = 255

with kiseki.init(project="lineage", name="prepare", job_type="data") as run:
    data = kiseki.Artifact("shapes", type="dataset", metadata={{"images": 3, "note": XSS}},
                           description="Shapes on noise " + XSS)
    data.add_dir("data")
    data.add(kiseki.Image(sample), "sample")
    run.log_artifact(data, aliases=["raw"])
    data.wait()
    # v1: labels changed, one image gone, one file new, metadata changed
    with open("data/labels.csv", "w") as f:
        f.write({LABELS_V1!r})
    os.remove("data/images/2.txt")
    with open("data/extra.txt", "w") as f:
        f.write("extra")
    data = kiseki.Artifact("shapes", type="dataset", metadata={{"images": 2, "note": XSS}},
                           description="Shapes on noise " + XSS)
    data.add_dir("data")
    data.add(kiseki.Image(sample), "sample")
    run.log_artifact(data)
    data.wait()

with kiseki.init(project="lineage", name="train", job_type="train") as run:
    ds = run.use_artifact("shapes:latest", type="dataset")
    ds.download()
    for epoch in range(2):
        with open("model.bin", "wb") as f:
            f.write(bytes([epoch]) * 4096)
        model = run.log_model("model.bin", name="segmenter", aliases=["best"] if epoch else [])
        model.wait()
        if epoch == 0:
            first = model
    run.link_artifact(first, "registry/segmenter", aliases=["staging"])
    run.link_artifact(model, "registry/segmenter", aliases=["production"])

with kiseki.init(project="lineage", name={EVAL_NAME!r}, job_type="eval") as run:
    run.use_model("segmenter:best")
    table = kiseki.Table(columns=["id", "score", "label"],
                         data=[[0, 0.5, XSS], [1, 0.75, "dog"]])
    preds = kiseki.Artifact("predictions", type="predictions")
    preds.add(table, "val")
    run.log_artifact(preds)
    preds.wait()
"""


@pytest.fixture(scope="module")
def lineage(tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    """One `kiseki server` (as the ``web`` fixture starts it) with the pipeline and a 200-node
    project logged, shared by this module's tests: logging takes a while, and every test only
    reads, except the registry test's alias move, which it moves back."""
    tmp = tmp_path_factory.mktemp("artifacts-ui")
    srv = ServerProcess(tmp / "server").start()
    try:
        log_runs(srv, tmp, PIPELINE, timeout=180)
        log_runs(srv, tmp, WIDE_SCRIPT, timeout=300)
        api = kiseki.Api(settings={"base_url": srv.url})
        try:
            reg = api.registry("registry/segmenter")
            reg.protect("production")
        finally:
            api.close()
        yield srv, run_ids(srv, "lineage")
    finally:
        srv.stop()


@pytest.fixture
def dialogs(page: Any) -> Iterator[list[str]]:
    """Every JS dialog the page opens (an XSS payload that ran would open one)."""
    seen: list[str] = []

    def on_dialog(dialog: Any) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    yield seen
    assert seen == [], f"a dialog fired: {seen}"
    assert page.evaluate("window.__xss") is None


def node_ids(page: Any) -> set[str]:
    return set(page.locator("[data-testid=lineage-node]").evaluate_all(
        "els => els.map(e => e.getAttribute('data-node-id'))"))


def edge_ids(page: Any) -> set[str]:
    return set(page.locator("[data-testid=lineage-edge]").evaluate_all(
        "els => els.map(e => e.getAttribute('data-edge'))"))


def node_x(page: Any, node_id: str) -> float:
    box = page.locator(f"[data-testid=lineage-node][data-node-id='{node_id}']").bounding_box()
    assert box is not None, node_id
    return float(box["x"])


def test_browser_lists_collections_by_type_and_versions(page: Any, dialogs: list[str],
                                                        lineage: Any) -> None:
    srv, ids = lineage
    open_app(page, srv, "/p/lineage")
    page.get_by_test_id("nav-artifacts").click()
    page.wait_for_url("**/p/lineage/artifacts")
    sections = page.locator("[data-testid=artifact-type]")
    expect(sections).to_have_count(3)
    assert sections.evaluate_all("els => els.map(e => e.dataset.type)") == \
        ["dataset", "model", "predictions"]
    shapes = page.locator("[data-testid=artifact-type][data-type=dataset] "
                          "[data-testid=collection-row][data-name=shapes]")
    assert shapes.get_by_test_id("collection-versions").inner_text() == "2"
    model = page.locator("[data-testid=collection-row][data-name=segmenter]")
    assert model.get_by_test_id("collection-versions").inner_text() == "2"
    screenshot(page, "artifacts-browser")

    # A collection: versions newest first, aliases, who produced and who used each.
    shapes.get_by_test_id("collection-link").click()
    page.wait_for_url("**/p/lineage/artifacts/shapes")
    rows = page.get_by_test_id("version-row")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("els => els.map(e => e.dataset.version)") == ["v1", "v0"]
    v0 = page.locator("[data-testid=version-row][data-version=v0]")
    v1 = page.locator("[data-testid=version-row][data-version=v1]")
    assert v0.locator("[data-testid=alias]").evaluate_all(
        "els => els.map(e => e.dataset.alias)") == ["raw"]
    assert v1.locator("[data-testid=alias]").evaluate_all(
        "els => els.map(e => e.dataset.alias)") == ["latest"]
    expect(v1.get_by_test_id("produced-by")).to_have_text("prepare")
    expect(v1.get_by_test_id("used-by")).to_have_text("train")
    expect(v0.get_by_test_id("used-by")).to_have_text("—")
    # the metadata holds markup: shown as text (cut to fit the cell)
    assert "note: " + XSS[:30] in v0.inner_text()
    assert page.locator("img[src=x]").count() == 0


def test_version_files_previews_and_metadata(page: Any, dialogs: list[str], lineage: Any) -> None:
    srv, ids = lineage
    open_app(page, srv, "/p/lineage/artifacts/shapes/v0?file=notes.json")
    version = page.get_by_test_id("artifact-version")
    expect(version).to_have_attribute("data-version", "v0")
    expect(page.get_by_test_id("version-description")).to_have_text("Shapes on noise " + XSS)
    expect(page.locator("[data-testid=version-producer] a")).to_have_text("prepare")
    expect(page.locator("[data-testid=version-users]")).to_have_text("no run yet")
    # the tree: folders, files with sizes
    tree = page.get_by_test_id("file-tree")
    expect(tree.locator("[data-testid=file-row]")).to_have_count(8)
    # JSON shown as its exact text
    preview = page.get_by_test_id("file-preview")
    expect(preview).to_have_attribute("data-kind", "json")
    text = page.get_by_test_id("preview-text")
    expect(text).to_have_text(NOTES.rstrip("\n"))
    assert text.evaluate("e => e.textContent") == NOTES
    expect(page.get_by_test_id("preview-size")).to_have_text(f"{len(NOTES.encode())} B")
    expect(page.locator("[data-testid=version-producer] .state")).to_have_text("finished")
    screenshot(page, "artifact-version-files")
    # another file from the tree: the URL follows
    tree.locator("[data-testid=file-row][data-path='labels.csv']").click()
    page.wait_for_url("**file=labels.csv**")
    assert page.get_by_test_id("preview-text").evaluate("e => e.textContent") == LABELS_V0
    # HTML is text, never markup
    tree.locator("[data-testid=file-row][data-path='page.html']").click()
    expect(page.get_by_test_id("preview-text")).to_have_text(XSS)
    assert page.locator("img[src=x]").count() == 0
    # an image: decoded from a typed blob: URL
    tree.locator("[data-testid=file-row][data-path='sample.png']").click()
    image = page.get_by_test_id("preview-image")
    expect(image).to_be_visible()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=preview-image]').naturalWidth === 12")
    assert (image.get_attribute("src") or "").startswith("blob:")
    # binary: no preview, a download link
    tree.locator("[data-testid=file-row][data-path='blob.bin']").click()
    expect(page.get_by_test_id("preview-none")).to_contain_text("No preview")
    href = page.locator("[data-testid=file-preview] [data-testid=file-download]").first \
        .get_attribute("href") or ""
    assert "/artifacts/shapes/v0/file?path=blob.bin" in href
    assert httpx.get(srv.url + href).content == bytes(range(256))
    # folders collapse
    folder = tree.locator("[data-testid=folder-row][data-path=images]")
    expect(folder).to_have_attribute("data-open", "true")
    assert tree.locator("[data-testid=file-row][data-path='images/0.txt']").count() == 1
    folder.click()
    expect(folder).to_have_attribute("data-open", "false")
    assert tree.locator("[data-testid=file-row][data-path='images/0.txt']").count() == 0
    folder.click()
    tree.locator("[data-testid=file-row][data-path='images/1.txt']").click()
    assert page.get_by_test_id("preview-text").evaluate("e => e.textContent") == "image 1"

    # metadata tab: values as text
    page.get_by_test_id("tab-metadata").click()
    page.wait_for_url("**tab=metadata**")
    meta = page.get_by_test_id("metadata-tree")
    expect(meta.locator("[data-key='note'] .tree-value")).to_have_text(XSS)
    expect(meta.locator("[data-key='images'] .tree-value")).to_have_text("3")
    assert page.locator("img[src=x]").count() == 0


def test_table_preview(page: Any, dialogs: list[str], lineage: Any) -> None:
    srv, ids = lineage
    open_app(page, srv, "/p/lineage/artifacts/predictions/latest?file=val.table.json")
    expect(page.get_by_test_id("artifact-version")).to_have_attribute("data-version", "v0")
    table = page.get_by_test_id("preview-table")
    rows = table.get_by_test_id("preview-table-row")
    expect(rows).to_have_count(2)
    assert table.locator("th").evaluate_all("els => els.map(e => e.dataset.column)") == \
        ["id", "score", "label"]
    assert rows.nth(0).locator("td").evaluate_all("els => els.map(e => e.textContent)") == \
        ["0", "0.5", XSS]
    assert rows.nth(1).locator("td").evaluate_all("els => els.map(e => e.textContent)") == \
        ["1", "0.75", "dog"]
    assert page.locator("img[src=x]").count() == 0


def test_diff_of_two_versions(page: Any, dialogs: list[str], lineage: Any) -> None:
    srv, ids = lineage
    open_app(page, srv, "/p/lineage/artifacts/shapes?diff=v0,v1")
    diff = page.get_by_test_id("version-diff")
    files = diff.get_by_test_id("diff-file")
    expect(files).to_have_count(3)
    got = files.evaluate_all("els => els.map(e => [e.dataset.path, e.dataset.status])")
    assert got == [["extra.txt", "added"], ["images/2.txt", "removed"],
                   ["labels.csv", "changed"]]
    meta = diff.get_by_test_id("diff-meta")
    expect(meta).to_have_count(1)
    assert meta.get_attribute("data-key") == "images"
    assert meta.locator("td").evaluate_all("els => els.map(e => e.textContent)") == \
        ["images", "3", "2"]
    # unchanged files are counted, not listed (sample.png, notes.json, ... are the same)
    expect(diff.get_by_test_id("diff-summary")).to_contain_text("6 unchanged")
    v1 = page.locator("[data-testid=version-row][data-version=v1]")
    expect(v1.get_by_test_id("used-by")).to_have_text("train")
    expect(v1.get_by_test_id("produced-by")).to_have_text("prepare")
    screenshot(page, "artifacts-diff")
    # Picking two versions in the table opens the same diff.
    open_app(page, srv, "/p/lineage/artifacts/shapes")
    for v in ("v1", "v0"):
        page.locator(f"[data-testid=version-row][data-version={v}] "
                     "[data-testid=pick-version]").check()
    page.get_by_test_id("compare-picked").click()
    page.wait_for_url("**diff=v0%2Cv1**")
    expect(page.get_by_test_id("diff-file")).to_have_count(3)


def test_lineage_graph_of_the_model(page: Any, dialogs: list[str], lineage: Any) -> None:
    srv, ids = lineage
    train, evaluate, prepare = ids["train"], ids[EVAL_NAME], ids["prepare"]
    open_app(page, srv, "/p/lineage/artifacts/segmenter/best?tab=lineage")
    graph = page.get_by_test_id("lineage-graph")
    expect(graph).to_have_attribute("data-state", "ready")
    expect(graph).to_have_attribute("data-centre", "artifact:lineage/segmenter:v1")
    run = lambda rid: f"run:lineage/{rid}"  # noqa: E731
    model1, model0 = "artifact:lineage/segmenter:v1", "artifact:lineage/segmenter:v0"
    shapes1, shapes0 = "artifact:lineage/shapes:v1", "artifact:lineage/shapes:v0"
    preds = "artifact:lineage/predictions:v0"
    registry = "registry:segmenter"
    # depth 2 around the model: its producer and consumer, and what they used and made; both
    # model versions are linked into the registered model
    assert node_ids(page) == {model1, model0, shapes1, preds, run(train), run(evaluate),
                              registry}
    assert edge_ids(page) == {f"{shapes1}->{run(train)}", f"{run(train)}->{model0}",
                              f"{run(train)}->{model1}", f"{model1}->{run(evaluate)}",
                              f"{run(evaluate)}->{preds}", f"{model0}->{registry}",
                              f"{model1}->{registry}"}
    # data flows left to right
    assert node_x(page, shapes1) < node_x(page, run(train)) < node_x(page, model1) \
        < node_x(page, run(evaluate)) < node_x(page, preds)
    # labels: runs show name and state, artifacts name:version, type and aliases (as text)
    model_node = page.locator(f"[data-testid=lineage-node][data-node-id='{model1}']")
    assert model_node.locator("tspan").evaluate_all("els => els.map(e => e.textContent)") == \
        ["segmenter:v1", "model", "@best @latest"]
    eval_node = page.locator(f"[data-testid=lineage-node][data-node-id='{run(evaluate)}']")
    assert EVAL_NAME in (eval_node.locator("title").first.text_content() or "")
    assert eval_node.locator("tspan").nth(1).text_content() == "finished · eval"
    assert eval_node.locator("b").count() == 0
    assert model_node.get_attribute("data-centre") == "true"
    # nodes at the edge of the graph can be expanded; the centre's neighbours are complete
    assert model_node.get_attribute("data-complete") == "true"
    shapes_node = page.locator(f"[data-testid=lineage-node][data-node-id='{shapes1}']")
    assert shapes_node.get_attribute("data-complete") == "false"
    # the registered model: after the versions it links, labelled registry/<name>, its aliases
    # as chips with the registry version they point at, the protected one locked; a leaf
    reg_node = page.locator(f"[data-testid=lineage-node][data-node-id='{registry}']")
    assert reg_node.get_attribute("data-kind") == "registry"
    assert reg_node.locator("tspan[data-line]").evaluate_all(
        "els => els.map(e => e.textContent)") == ["registry/segmenter", "registered model"]
    chips = reg_node.get_by_test_id("lineage-alias").evaluate_all(
        "els => els.map(e => [e.dataset.alias, e.dataset.version, e.dataset.artifact, "
        "e.dataset.protected, e.querySelector('.chip-text').textContent])")
    assert chips == [["production", "v1", model1, "true", "production v1"],
                     ["staging", "v0", model0, "false", "staging v0"]]
    assert reg_node.locator("[data-alias=production] [data-testid=lock]").count() == 1
    assert reg_node.locator("[data-alias=staging] [data-testid=lock]").count() == 0
    assert reg_node.get_by_test_id("expand-node").count() == 0
    assert node_x(page, model1) < node_x(page, registry)
    linked = page.locator(f"[data-testid=lineage-edge][data-edge='{model1}->{registry}']")
    assert linked.get_attribute("data-kind") == "linked"
    assert linked.get_attribute("data-aliases") == "production"
    assert page.locator(f"[data-testid=lineage-edge][data-edge='{run(train)}->{model1}']") \
        .get_attribute("data-kind") == "produced"
    screenshot(page, "lineage-graph")

    # expand the dataset: its producer comes in; then the producer: the older version
    shapes_node.get_by_test_id("expand-node").click()
    page.wait_for_url("**expand=**")
    expect(graph).to_have_attribute("data-node-count", "8")
    expect(graph).to_have_attribute("data-state", "ready")
    assert run(prepare) in node_ids(page)
    assert f"{run(prepare)}->{shapes1}" in edge_ids(page)
    assert shapes_node.get_attribute("data-complete") == "true"
    prep = page.locator(f"[data-testid=lineage-node][data-node-id='{run(prepare)}']")
    prep.get_by_test_id("expand-node").click()
    expect(graph).to_have_attribute("data-node-count", "9")
    assert f"{run(prepare)}->{shapes0}" in edge_ids(page)
    assert node_x(page, run(prepare)) < node_x(page, shapes1)
    # what an expansion brings in is scrolled into view
    box = page.get_by_test_id("lineage-graph").bounding_box()
    for nid in (run(prepare), shapes0):
        nb = page.locator(f"[data-testid=lineage-node][data-node-id='{nid}']").bounding_box()
        assert box["x"] <= nb["x"] and nb["x"] + nb["width"] <= box["x"] + box["width"], nid
    screenshot(page, "lineage-expanded")
    # the expansions are in the URL: a reload shows the same graph
    page.reload()
    expect(graph).to_have_attribute("data-state", "ready")
    expect(graph).to_have_attribute("data-node-count", "9")
    # zoom buttons change the scale
    before = float(graph.get_attribute("data-scale") or "0")
    page.get_by_test_id("lineage-zoom-in").click()
    expect(graph).not_to_have_attribute("data-scale", f"{before:.3f}")
    assert float(graph.get_attribute("data-scale") or "0") > before

    # a click on a run node opens the run page
    page.locator(f"[data-testid=lineage-node][data-node-id='{run(train)}'] "
                 "[data-testid=lineage-node-link]").click()
    page.wait_for_url(f"**/p/lineage/r/{train}")
    expect(page.get_by_test_id("run-name")).to_have_text("train")
    # back, and a click on the registry node opens the registered model's page
    page.go_back()
    expect(graph).to_have_attribute("data-state", "ready")
    page.get_by_test_id("lineage-fit").click()
    page.locator(f"[data-testid=lineage-node][data-node-id='{registry}'] "
                 "[data-testid=lineage-node-link]").click()
    page.wait_for_url("**/registry/segmenter")
    expect(page.get_by_test_id("registered-model")).to_have_attribute("data-name", "segmenter")
    expect(page.locator("[data-testid=registry-alias][data-alias=production]")) \
        .to_have_attribute("data-version", "v1")


def test_run_page_artifacts_tab(page: Any, dialogs: list[str], lineage: Any) -> None:
    srv, ids = lineage
    train = ids["train"]
    open_app(page, srv, f"/p/lineage/r/{train}")
    page.get_by_test_id("tab-artifacts").click()
    page.wait_for_url("**tab=artifacts**")
    used = page.get_by_test_id("run-artifacts-used").get_by_test_id("run-artifact")
    expect(used).to_have_count(1)
    assert used.evaluate_all("els => els.map(e => e.dataset.name + ':' + e.dataset.version)") \
        == ["shapes:v1"]
    produced = page.get_by_test_id("run-artifacts-produced").get_by_test_id("run-artifact")
    assert produced.evaluate_all(
        "els => els.map(e => e.dataset.name + ':' + e.dataset.version)") == \
        ["segmenter:v0", "segmenter:v1"]
    graph = page.get_by_test_id("lineage-graph")
    expect(graph).to_have_attribute("data-state", "ready")
    expect(graph).to_have_attribute("data-centre", f"run:lineage/{train}")
    assert f"artifact:lineage/shapes:v1->run:lineage/{train}" in edge_ids(page)
    # a click on an artifact node opens the version page
    page.locator("[data-testid=lineage-node][data-node-id='artifact:lineage/segmenter:v0'] "
                 "[data-testid=lineage-node-link]").click()
    page.wait_for_url("**/p/lineage/artifacts/segmenter/v0")
    expect(page.get_by_test_id("artifact-version")).to_have_attribute("data-version", "v0")


def test_registry_page(page: Any, dialogs: list[str], lineage: Any) -> None:
    srv, ids = lineage
    open_app(page, srv, "/p/lineage")
    page.get_by_test_id("nav-registry").click()
    page.wait_for_url("**/registry")
    row = page.locator("[data-testid=registry-row][data-name=segmenter]")
    expect(row).to_be_visible()
    assert row.locator("[data-testid=alias][data-protected=true]").evaluate_all(
        "els => els.map(e => e.dataset.alias)") == ["production"]
    row.get_by_test_id("registry-link").click()
    page.wait_for_url("**/registry/segmenter")
    aliases = page.get_by_test_id("registry-alias")
    expect(aliases).to_have_count(3)
    got = aliases.evaluate_all(
        "els => els.map(e => [e.dataset.alias, e.dataset.version, e.dataset.protected])")
    assert got == [["latest", "v1", "false"], ["production", "v1", "true"],
                   ["staging", "v0", "false"]]
    production = page.locator("[data-testid=registry-alias][data-alias=production]")
    assert production.get_by_test_id("lock").count() == 2  # on the chip and in the column
    assert production.inner_text().strip().endswith("protected")
    assert page.locator("[data-testid=registry-alias][data-alias=staging] "
                        "[data-testid=lock]").count() == 0
    # versions link to their source artifact version and run
    v0 = page.locator("[data-testid=registry-version][data-version=v0]")
    expect(v0.locator("[data-testid=registry-source] a")).to_have_text("segmenter:v0")
    assert v0.locator("[data-testid=registry-source] a").get_attribute("href") == \
        "/p/lineage/artifacts/segmenter/v0"
    expect(v0.locator("[data-testid=registry-run] a")).to_have_text("train")
    # history: newest first, with actor and from -> to
    history = page.get_by_test_id("registry-history-row")
    expect(history).to_have_count(5)
    got = history.evaluate_all("els => els.map(e => [e.dataset.action, e.dataset.alias])")
    assert got == [["protect", "production"], ["alias", "production"], ["link", ""],
                   ["alias", "staging"], ["link", ""]]
    prod_row = history.nth(1)
    assert prod_row.get_by_test_id("history-versions").inner_text() == "v1"
    assert f"run {ids['train']}" in prod_row.inner_text()
    screenshot(page, "registry")

    # move an alias from the page: staging to v1; the history shows v0 -> v1 (moved back at
    # the end: the lineage test reads staging on v0)
    page.get_by_test_id("move-alias-name").fill("staging")
    page.get_by_test_id("move-alias-version").select_option("1")
    page.get_by_test_id("move-alias-submit").click()
    expect(page.locator("[data-testid=registry-alias][data-alias=staging]")) \
        .to_have_attribute("data-version", "v1")
    expect(history).to_have_count(6)
    assert history.nth(0).get_attribute("data-action") == "alias"
    assert history.nth(0).get_by_test_id("history-versions").inner_text() == "v0 → v1"
    assert history.nth(0).locator("td").nth(4).inner_text() == "local"
    with kiseki.Api(settings={"base_url": srv.url}) as api:
        api.registry("segmenter").move_alias("staging", "v0")


def test_lineage_graph_of_200_nodes(page: Any, dialogs: list[str], lineage: Any) -> None:
    """A run that used 99 data sets and made 99 models: 200 nodes laid out in three layers,
    no two boxes overlapping, readable (not shrunk to fit) and centred on the run."""
    srv, _ = lineage
    train = run_ids(srv, "wide")["train-all"]
    open_app(page, srv, f"/p/wide/r/{train}?tab=artifacts")
    graph = page.get_by_test_id("lineage-graph")
    expect(graph).to_have_attribute("data-state", "ready", timeout=30_000)
    expect(graph).to_have_attribute("data-node-count", str(2 * WIDE + 2))
    expect(graph).to_have_attribute("data-edge-count", str(3 * WIDE))
    boxes = page.locator("[data-testid=lineage-node]").evaluate_all("""els => els.map(e => {
        const r = e.querySelector('.node-box').getBBox();
        const t = e.transform.baseVal.consolidate().matrix;
        return [e.dataset.nodeId, t.e, t.f, r.width, r.height];
    })""")
    assert len(boxes) == 2 * WIDE + 2
    for i, (ida, xa, ya, wa, ha) in enumerate(boxes):
        for idb, xb, yb, wb, hb in boxes[i + 1:]:
            assert not (xa < xb + wb and xb < xa + wa and ya < yb + hb and yb < ya + ha), \
                (ida, idb)
    # three layers, data flowing left to right: data sets, then the run, then the models
    xs = {nid: x for nid, x, *_ in boxes}
    run_x = xs[f"run:wide/{train}"]
    assert all(xs[f"artifact:wide/part-{i:02d}:v0"] < run_x for i in range(WIDE))
    assert all(xs[f"artifact:wide/model-{i:02d}:v0"] > run_x for i in range(WIDE))
    # shown at a readable scale around the run, not shrunk to a speck
    assert float(graph.get_attribute("data-scale") or "0") >= 0.5
    centre = page.locator(f"[data-testid=lineage-node][data-node-id='run:wide/{train}']")
    gb, cb = graph.bounding_box(), centre.bounding_box()
    assert abs((cb["x"] + cb["width"] / 2) - (gb["x"] + gb["width"] / 2)) < 5
    graph.scroll_into_view_if_needed()
    screenshot(page, "lineage-200")
    # "Fit all" shows everything
    page.get_by_test_id("lineage-fit").click()
    gb = graph.bounding_box()
    for nid in ("artifact:wide/part-00:v0", f"artifact:wide/model-{WIDE - 1:02d}:v0"):
        nb = page.locator(f"[data-testid=lineage-node][data-node-id='{nid}']").bounding_box()
        assert gb["y"] - 1 <= nb["y"] and nb["y"] + nb["height"] <= gb["y"] + gb["height"] + 1


def test_registry_with_api_keys(page: Any, dialogs: list[str], tmp_path: Path,
                                request: pytest.FixtureRequest) -> None:
    """On a server that needs API keys: previews are fetched with the key, and a member who
    tries to move a protected alias is refused with the server's reason; unprotected ones move."""
    request.node.allowed_console_errors = ("the server responded with a status of 403",)
    data = tmp_path / "server"
    keys: dict[str, str] = {}
    for name, role in (("alice", "member"), ("bob", "maintainer")):
        out = subprocess.run([sys.executable, "-m", "kiseki", "keys", "create", name, "--role",
                              role, "--dir", str(data)], capture_output=True, text=True,
                             check=True)
        keys[name] = out.stdout.strip().splitlines()[-1]
    srv = ServerProcess(data, extra=["--host", "0.0.0.0"]).start()  # keys required off loopback
    try:
        run_script("""
import kiseki
with kiseki.init(project="gov", name="fit") as run:
    art = kiseki.Artifact("clf", type="model")
    with art.new_file("notes.txt") as f:
        f.write("weights of <b>clf</b>")
    run.log_artifact(art)
    art.wait()
    run.link_artifact(art, "registry/clf", aliases=["production"])
""", tmp_path, env={"KISEKI_BASE_URL": srv.url, "KISEKI_API_KEY": keys["bob"],
                    "KISEKI_CAPTURE_SYSTEM": "false"})
        bob = kiseki.Api(settings={"base_url": srv.url, "api_key": keys["bob"]})
        bob.registry("clf").protect("production")
        bob.close()
        assert httpx.get(f"{srv.url}/api/v1/registry").status_code == 401
        page.add_init_script(f"sessionStorage.setItem('kiseki.token', {keys['alice']!r})")

        open_app(page, srv, "/p/gov/artifacts/clf/v0?file=notes.txt")
        text = page.get_by_test_id("preview-text")
        expect(text).to_have_text("weights of <b>clf</b>")

        open_app(page, srv, "/registry/clf")
        production = page.locator("[data-testid=registry-alias][data-alias=production]")
        expect(production).to_have_attribute("data-protected", "true")
        page.get_by_test_id("move-alias-name").fill("production")
        page.get_by_test_id("move-alias-submit").click()
        expect(page.get_by_test_id("move-alias-error")).to_contain_text(
            "protected: only maintainers")
        page.get_by_test_id("move-alias-name").fill("candidate")
        page.get_by_test_id("move-alias-submit").click()
        expect(page.locator("[data-testid=registry-alias][data-alias=candidate]")) \
            .to_have_attribute("data-version", "v0")
        newest = page.get_by_test_id("registry-history-row").first
        expect(newest).to_have_attribute("data-alias", "candidate")
        assert newest.locator("td").nth(4).inner_text() == "alice"
    finally:
        srv.stop()

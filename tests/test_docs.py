"""The front page and the docs: the README is a front page, every link resolves, every table
of results in the docs stands in a committed results file, the protocol page is generated from
the tasks' notes, and no source file cites a document the repository does not hold."""
import glob
import os
import re

from hnn.experiments import find_tasks
from hnn.report import protocol_page

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Pages whose tables hold facts or settings, not results.
NOT_RESULTS = {"paper-settings.md", "library.md", "studies.md", "adding-a-system.md",
               "sweeps-and-speed.md", "protocol.md"}
NUMBER = re.compile(r"\d\.\d\de[+-]\d\d|\d+x \|")


def read(path):
    with open(os.path.join(REPO, path)) as f:
        return f.read()


def pages():
    return ["README.md"] + sorted(os.path.relpath(p, REPO)
                                  for p in glob.glob(os.path.join(REPO, "docs", "*.md")))


def test_the_readme_is_a_front_page():
    lines = read("README.md").splitlines()
    assert len(lines) <= 200
    first = "\n".join(lines[:100])
    assert "python reproduce.py --quick" in first
    # the headline table
    assert "| Ideal mass-spring (seeds 0, 1, 2, 3, 4) | 8.99e-04 |" in first
    assert "docs/adding-a-system.md" in first
    assert first.index("--quick") < first.index("python reproduce.py     # the whole reproduction")


def test_every_link_of_the_readme_and_the_docs_resolves():
    for page in pages() + ["CONTRIBUTING.md", "benchmarks/README.md"]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", read(page)):
            if not target.startswith(("http://", "https://")):
                assert os.path.exists(os.path.join(REPO, os.path.dirname(page), target)), (
                    page, target)


def test_every_results_table_in_the_docs_stands_in_a_committed_results_file():
    committed = "".join(read(os.path.relpath(p, REPO)) for p in
                        glob.glob(os.path.join(REPO, "results", "**", "*.md"), recursive=True))
    rows = [(page, line) for page in pages() if os.path.basename(page) not in NOT_RESULTS
            for line in read(page).splitlines() if line.startswith("| ") and NUMBER.search(line)]
    assert len(rows) >= 50
    missing = [(page, row[:70]) for page, row in rows if row not in committed]
    assert not missing, missing


def test_the_protocol_page_is_generated_from_the_tasks_notes():
    assert read("docs/protocol.md") == protocol_page(find_tasks()), \
        "docs/protocol.md is stale: run python reproduce.py --protocol-page"
    for task in find_tasks().values():
        for note in task.notes:
            assert note.text in read("docs/protocol.md")


def test_no_source_file_cites_a_document_the_repository_does_not_hold():
    names = {os.path.relpath(p, REPO)
             for p in glob.glob(os.path.join(REPO, "**", "*.md"), recursive=True)}
    cited = set()
    for path in glob.glob(os.path.join(REPO, "**", "*.py"), recursive=True):
        with open(path) as f:
            cited |= set(re.findall(r"[\w./-]*\w\.md\b", f.read()))
    missing = [c for c in cited if not any(n == c or n.endswith("/" + c) for n in names)
               and "{" not in c]
    assert not missing, missing

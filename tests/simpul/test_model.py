from simpul.config import PROJECT_ROOT
from simpul.mapping import MAPPINGS_DIR, load_mapping
from simpul.model import ENTITIES, model_markdown


def test_model_doc_is_current():
    doc = (PROJECT_ROOT / "docs" / "canonical_model.md").read_text(encoding="utf-8")
    assert doc == model_markdown() + "\n", "run `uv run simpul docs`"


def test_every_mapping_loads_and_targets_a_known_entity():
    for path in MAPPINGS_DIR.glob("*.yaml"):
        spec = load_mapping(path.stem)
        assert spec.entity in ENTITIES
        assert f"{spec.source}_{spec.stream}" == path.stem

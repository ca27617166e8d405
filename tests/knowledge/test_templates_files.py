"""Template folders on disk: broken files are errors that name the file and say how to fix."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from knowledge.templates import CATALOG_DIR, TemplateCatalog, TemplateFileError, load_template

GOOD = CATALOG_DIR / "redis"


def _copy(tmp_path: Path, name: str = "redis") -> Path:
    folder = tmp_path / name
    shutil.copytree(GOOD, folder)
    return folder


def _error(folder: Path) -> TemplateFileError:
    with pytest.raises(TemplateFileError) as caught:
        load_template(folder)
    return caught.value


def test_a_copied_folder_loads(tmp_path: Path) -> None:
    assert load_template(_copy(tmp_path)).id == "redis"


def test_bad_yaml_names_the_file_and_line(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "template.yaml").write_text("name: Redis\ndescription: [unclosed\ncategory: cache\n")
    error = _error(folder)
    assert str(folder / "template.yaml") in error.message
    assert "malformed YAML" in error.message and "line" in error.message
    assert error.template == "redis" and error.hint and "indentation" in error.hint


def test_missing_compose_file(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "compose.yaml").unlink()
    error = _error(folder)
    assert str(folder / "compose.yaml") in error.message and "missing" in error.message
    assert error.hint is not None and "compose.yaml" in error.hint


def test_unknown_category_lists_the_valid_ones(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    meta = folder / "template.yaml"
    meta.write_text(meta.read_text().replace("category: cache", "category: games"))
    error = _error(folder)
    assert "template.yaml" in error.message and "category" in error.message
    assert error.hint is not None and "database" in error.hint and "collaboration" in error.hint


def test_id_must_match_the_folder(tmp_path: Path) -> None:
    folder = _copy(tmp_path, "cache")
    meta = folder / "template.yaml"
    meta.write_text("id: redis\n" + meta.read_text())
    error = _error(folder)
    assert "'redis' differs from the folder name 'cache'" in error.message


def test_undeclared_variable_in_compose(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    compose = folder / "compose.yaml"
    compose.write_text(compose.read_text().replace("${MAXMEMORY}", "${MAX_MEMORY}"))
    error = _error(folder)
    assert "MAX_MEMORY, which is not a parameter" in error.message
    assert "compose" in error.message


def test_metadata_that_is_not_a_mapping(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "template.yaml").write_text("- just\n- a list\n")
    assert "must be a mapping" in _error(folder).message


def test_strict_catalog_fails_on_the_first_broken_folder(tmp_path: Path) -> None:
    _copy(tmp_path)
    broken = _copy(tmp_path, "postgres")
    shutil.rmtree(broken)
    shutil.copytree(CATALOG_DIR / "postgres", broken)
    (broken / "template.yaml").write_text("name: [\n")
    with pytest.raises(TemplateFileError) as caught:
        TemplateCatalog.load(tmp_path)
    assert "postgres" in caught.value.message


def test_lenient_catalog_collects_errors_per_template(tmp_path: Path) -> None:
    _copy(tmp_path)
    shutil.copytree(CATALOG_DIR / "postgres", tmp_path / "postgres")
    (tmp_path / "postgres" / "compose.yaml").unlink()
    shutil.copytree(CATALOG_DIR / "mysql", tmp_path / "mysql")
    meta = tmp_path / "mysql" / "template.yaml"
    meta.write_text(meta.read_text().replace("category: database", "category: nope"))
    catalog = TemplateCatalog.load(tmp_path, strict=False)
    assert catalog.ids() == ["redis"]
    assert set(catalog.errors) == {"postgres", "mysql"}
    assert "compose.yaml" in catalog.errors["postgres"].message
    assert "category" in catalog.errors["mysql"].message


def test_missing_catalog_folder(tmp_path: Path) -> None:
    with pytest.raises(TemplateFileError) as caught:
        TemplateCatalog.load(tmp_path / "nowhere")
    assert "does not exist" in caught.value.message

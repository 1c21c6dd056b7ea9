"""The chapters as a teacher assigns them: every exercise names its knob and the outcome to expect, and
every answer check comes after the exercise it checks."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

CHAPTERS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _cells(path: Path) -> list[tuple[str, str]]:
    return [(cell["cell_type"], "".join(cell["source"])) for cell in json.loads(path.read_text())["cells"]]


def _exercises(cells: list[tuple[str, str]]) -> list[str]:
    section = next(text for kind, text in cells if kind == "markdown" and "## Exercises" in text)
    body = section.split("## Exercises", 1)[1].split("## Questionnaire", 1)[0]
    return re.split(r"\n(?=\d\. )", body.strip())


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_exercise_names_its_knob_and_what_to_expect(path):
    exercises = _exercises(_cells(path))
    assert len(exercises) >= 3
    for exercise in exercises:
        assert "**Knob:**" in exercise and "**Expect**" in exercise, exercise[:80]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_answer_checks_come_after_their_exercises(path):
    cells = _cells(path)
    exercises_at = next(i for i, (kind, text) in enumerate(cells) if kind == "markdown" and "## Exercises" in text)
    checks = [i for i, (kind, text) in enumerate(cells) if kind == "code" and re.search(r"\bcheck_\w+\(", text)
              and "answer" in text]
    assert all(i > exercises_at for i in checks)


KEY = Path(__file__).resolve().parents[1] / "teachers" / "README.md"


def _numbered(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.MULTILINE)]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_answer_key_answers_every_exercise_and_question(path):
    cells = _cells(path)
    questions = next(text for kind, text in cells if kind == "markdown" and "## Questionnaire" in text)
    questions = questions.split("## Questionnaire", 1)[1].split("## Further research", 1)[0]
    sections = re.split(r"^## (?=\d\d · )", KEY.read_text(), flags=re.MULTILINE)
    section = next((s for s in sections if s.startswith(path.stem[:2] + " · ")), None)
    assert section is not None, f"teachers/README.md has no section for chapter {path.stem[:2]}"
    key_exercises = section.split("### Exercises", 1)[1].split("### Questionnaire", 1)[0]
    key_questions = section.split("### Questionnaire", 1)[1]
    assert _numbered(key_exercises) == list(range(1, len(_exercises(cells)) + 1))
    assert _numbered(key_questions) == _numbered(questions)


#: Words that mark a question asked inside a chapter's text, outside its exercises and questionnaire.
INLINE_PROMPTS = ("a question for you", "Your turn.")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_the_answer_key_answers_the_questions_asked_in_the_text(path):
    prompts = [prompt for kind, text in _cells(path) if kind == "markdown" for prompt in INLINE_PROMPTS
               if prompt in text]
    sections = re.split(r"^## (?=\d\d · )", KEY.read_text(), flags=re.MULTILINE)
    section = next(s for s in sections if s.startswith(path.stem[:2] + " · "))
    in_text = section.split("### In the text", 1)[1].split("### Exercises", 1)[0] if "### In the text" in section else ""
    for prompt in prompts:
        assert prompt.rstrip(".").lower() in in_text.lower(), f"{path.stem}: the key does not answer '{prompt}'"



@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_chapter_asks_at_least_ten_questions(path):
    questions = next(text for kind, text in _cells(path) if kind == "markdown" and "## Questionnaire" in text)
    questions = questions.split("## Questionnaire", 1)[1].split("## Further research", 1)[0]
    assert len(_numbered(questions)) >= 10

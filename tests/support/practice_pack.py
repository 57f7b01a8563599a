"""A small pack source with workplace tasks and a programme, for the observed-practice
tests (docs/pack-format.md "[[tasks]]", "[certificate]", "[[programmes]]").

``make_pack_source(folder)`` writes ``practice-demo``: courses ``c1`` (three tasks; its
certificate asks for ``observed`` of them — 2 by default) and ``c2`` (one task, no
requirement), profile ``officer`` (two tasks a prison officer is expected to do) and the
programme ``foundation`` = c1 + c2 + a completed self-assessment of ``officer`` + 2
observed tasks.
"""

from __future__ import annotations

from pathlib import Path

PACK = "practice-demo"
PROGRAMME = "foundation"

PACK_TOML = '''format = 1
id = "practice-demo"
version = {version}
default_language = "en"
languages = ["en"]
audience_roles = ["prison_officer", "mentor", "trainer"]
title = {{ en = "Practice demo" }}
description = {{ en = "Courses with workplace tasks." }}
licence = "CC BY-SA 4.0"
authors = ["tests"]
courses = ["c1", "c2"]

[[programmes]]
id = "foundation"
title = {{ en = "Foundation in dynamic security" }}
description = {{ en = "Two courses, a self-assessment and two observed tasks." }}
courses = ["c1", "c2"]
profile = "officer"
observed_tasks = 2
'''

COURSE_TOML = '''title = {{ en = "Course {cid}" }}
summary = {{ en = "Summary of {cid}." }}
minutes = 10
pass_mark = 50
lessons = ["01-only"]
{certificate}
{tasks}
'''

TASK = '''[[tasks]]
id = "{tid}"
lesson = "01-only"
title = {{ en = "Task {tid}" }}
  [[tasks.checklist]]
  id = "a"
  text = {{ en = "Does step a of {tid}." }}
  [[tasks.checklist]]
  id = "b"
  text = {{ en = "Does step b of {tid}." }}
'''

QUIZ_TOML = '''max_attempts = 0
draw = 0
shuffle_questions = false
shuffle_options = false

[[questions]]
id = "q1"
type = "single"
prompt = { en = "Which is right?" }
explanation = { en = "Because." }
  [[questions.options]]
  id = "a"
  correct = true
  text = { en = "The right one" }
  feedback = { en = "Yes." }
  [[questions.options]]
  id = "b"
  correct = false
  text = { en = "The wrong one" }
  feedback = { en = "No." }
'''

LESSON = "# Lesson\n\nFirst card.\n\n## Try this on your next shift\n\n- Do the task.\n"

PROFILE = '''title = { en = "Officer" }
description = { en = "A tiny chart." }
roles = ["prison_officer"]
[[scale]]
level = 0
label = { en = "Never" }
[[scale]]
level = 2
label = { en = "Alone" }
[[scale]]
level = 4
label = { en = "Can teach" }
[[duties]]
id = "d"
title = { en = "Duty" }
  [[duties.tasks]]
  id = "p1"
  title = { en = "Profile task one" }
  expected = { prison_officer = 2 }
  [[duties.tasks]]
  id = "p2"
  title = { en = "Profile task two" }
  expected = { prison_officer = 4 }
'''

TASKS = {"c1": ["t1", "t2", "t3"], "c2": ["u1"]}


def make_pack_source(folder: Path, *, observed: int = 2, version: int = 1) -> Path:
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    (folder / "pack.toml").write_text(PACK_TOML.format(version=version), encoding="utf-8")
    (folder / "profiles" / "officer.toml").write_text(PROFILE, encoding="utf-8")
    for cid, tids in TASKS.items():
        course = folder / "courses" / cid
        course.mkdir(parents=True, exist_ok=True)
        certificate = (f"[certificate]\nobserved_tasks = {observed}\n"
                       if cid == "c1" and observed else "")
        (course / "course.toml").write_text(COURSE_TOML.format(
            cid=cid, certificate=certificate,
            tasks="\n".join(TASK.format(tid=t) for t in tids)), encoding="utf-8")
        (course / "quiz.toml").write_text(QUIZ_TOML, encoding="utf-8")
        (course / "01-only.en.md").write_text(LESSON, encoding="utf-8")
    return folder

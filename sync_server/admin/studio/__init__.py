"""The authoring studio's console pages (issue 20, docs/authoring.md "Studio"), one module
per screen: drafts.py (list, create, open, zip out/in, build), course.py, lesson.py,
quiz.py, profile.py; common.py holds what they share. Every action is a service call
(services/drafts.py, services/studio.py) that checks the account's role."""

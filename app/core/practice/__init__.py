"""Observed practice: workplace tasks a mentor confirms, mentor-validated self-ratings and
programmes (docs/learning.md "Observed practice", docs/events.md ``practice.*``).

``tasks``: the tasks, checklists and programmes of a manifest; ``rules``: what an
observation is worth (the same function on the tablet and on the server, which decides);
``state``: the fold of a learner's ``practice.*`` events; ``engine``: the events a
mentor's confirmation makes.
"""

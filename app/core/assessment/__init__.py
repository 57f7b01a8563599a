"""Self-assessment against DACUM occupational profiles (duties → tasks, ESCO skills):
ratings as events, resume point, gap report with course recommendations and the
comparison with the previous assessment. Rules in docs/learning.md.
"""

from app.core.assessment.engine import SelfAssessment
from app.core.assessment.gap import GapReport
from app.core.assessment.state import AssessmentState

__all__ = ["AssessmentState", "GapReport", "SelfAssessment"]

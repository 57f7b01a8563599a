"""Errors of the services as HTTP answers: each ShiftError kind has its status (first
match wins; anything else is 400) and answers `{"detail": message}`; a used-up push quota
answers 429 with its data and Retry-After."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from app.core.errors import PackError, ShiftError
from sync_server.errors import (
    AlreadyExistsError,
    DatabaseError,
    DeviceIdTakenError,
    EnrolError,
    ForbiddenError,
    NotFoundError,
    QuotaExceededError,
    TooManyAttemptsError,
)

STATUS_OF: tuple[tuple[type[ShiftError], int], ...] = (
    (NotFoundError, 404), (AlreadyExistsError, 409), (DeviceIdTakenError, 409),
    (EnrolError, 403), (ForbiddenError, 403), (DatabaseError, 503),
    (TooManyAttemptsError, 429), (PackError, 422))


def status_for(exc: ShiftError) -> int:
    return next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 400)


def add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ShiftError)
    async def shift_error(request: Request, exc: ShiftError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    @app.exception_handler(QuotaExceededError)
    async def quota_exceeded(request: Request, exc: QuotaExceededError) -> JSONResponse:
        return JSONResponse({"detail": str(exc), "code": "quota_exceeded", "quota": exc.quota,
                             "limit": exc.limit, "used": exc.used, "resets_at": exc.resets_at,
                             "retry_after": exc.retry_after}, status_code=429,
                            headers={"Retry-After": str(exc.retry_after)})

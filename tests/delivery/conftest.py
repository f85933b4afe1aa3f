"""Fixtures shared by the delivery tests that drive the engine the way production does."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from config.celery_app import app as celery_app


@pytest.fixture
def eager_celery_tasks():
    """Tasks published by the engine run in this process, at once, with their errors raised:
    a frozen-clock test then sees a whole occurrence (run task, send batches) happen inside
    the tick that started it, at the frozen instant. The broker is not involved."""
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.task_eager_propagates
    conf.task_always_eager, conf.task_eager_propagates = True, True
    yield
    conf.task_always_eager, conf.task_eager_propagates = saved


@pytest.fixture
def delivery_worker(request, transactional_db):
    """A real Celery worker (tests/conftest.py's celery_worker) started on an empty cache:
    circuit breakers and run progress share the broker's Redis db, and an earlier test's must
    not reach this worker."""
    cache.clear()
    return request.getfixturevalue("celery_worker")

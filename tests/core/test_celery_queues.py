import pytest
import redis
from django.conf import settings

from config.celery_app import QUEUE_NAMES
from config.celery_app import app as celery_app


@pytest.mark.parametrize("queue", QUEUE_NAMES)
def test_a_message_sent_to_one_queue_lands_in_that_queue_only(queue):
    celery_app.control.purge()
    broker = redis.Redis.from_url(settings.REDIS_URL)
    try:
        celery_app.send_task("herald.tests.nothing", queue=queue)
        lengths = {name: broker.llen(name) for name in QUEUE_NAMES}
        assert lengths == {name: int(name == queue) for name in QUEUE_NAMES}
    finally:
        celery_app.control.purge()

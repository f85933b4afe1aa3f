from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for `make run` and the benchmarks: the demo audience (`seed_demo`), the
    demo admin and API credentials (`bootstrap_demo`) and the sandboxed demo providers. It sits
    on top of the domain apps and nothing imports it."""

    name = "apps.demo"
    label = "demo"

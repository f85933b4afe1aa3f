"""The campaign wizard: setup → who → when → what → test → schedule.

- `frame.py`: the steps in order, their URLs, which are done, how a step hands over to the
  next (every step module imports it);
- `steps/<slug>.py`: one module per step (form, view, summary), listed in `steps.MODULES`;
- `views.py`: the URLs (new, resume, one step), which dispatch to the step modules.

The wizard is a page of the campaign app: it writes only through campaigns.services and
reads readiness from campaigns.readiness; the campaign domain never imports it.
"""

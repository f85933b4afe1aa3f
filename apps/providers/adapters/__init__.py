"""What every adapter speaks (base.py). Each kind's adapter lives in its package under
apps/providers/kinds/, and apps.providers.kinds.adapter_for picks one by kind."""

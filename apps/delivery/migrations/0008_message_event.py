"""MessageEvent: the first view and the first click of a sent push, as the app reported them
(apps/delivery/engagement.py), once per message and kind."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('audience', '0012_device_push_keys_and_deactivation'),
        ('campaigns', '0003_campaign_nothing_sent_reason'),
        ('delivery', '0007_message_id_cache'),
    ]

    operations = [
        migrations.CreateModel(
            name='MessageEvent',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('kind', models.CharField(choices=[('viewed', 'Viewed'), ('clicked', 'Clicked')], max_length=12)),
                ('occurred_at', models.DateTimeField()),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('campaign', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='campaigns.campaign')),
                ('message', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='delivery.message')),
                ('profile', models.ForeignKey(db_constraint=False, db_index=False, on_delete=django.db.models.deletion.DO_NOTHING, related_name='+', to='audience.profile')),
                ('run', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='message_events', to='delivery.campaignrun')),
            ],
            options={
                'indexes': [models.Index(fields=['run', 'kind'], name='message_event_run_kind_idx')],
                'constraints': [models.UniqueConstraint(fields=('message', 'kind'), name='message_event_once_per_kind'), models.CheckConstraint(condition=models.Q(('kind__in', ['viewed', 'clicked'])), name='message_event_kind_valid')],
            },
        ),
    ]

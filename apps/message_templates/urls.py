from django.urls import path

from . import views

app_name = "message_templates"

urlpatterns = [
    path("", views.template_list, name="list"),
    path("new/", views.template_create, name="create"),
    path("sms-counter/", views.sms_counter, name="sms_counter"),
    path("<int:pk>/", views.template_detail, name="detail"),
    path("<int:pk>/edit/", views.template_edit, name="edit"),
    path("<int:pk>/duplicate/", views.template_duplicate, name="duplicate"),
    path("<int:pk>/delete/", views.template_delete, name="delete"),
]

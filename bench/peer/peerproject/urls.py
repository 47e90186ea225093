from django.urls import path, re_path
from escrow import views

urlpatterns = [
    path("v1/contracts", views.create_contract),
    path("v1/milestones/<str:milestone_id>/events/<str:event>", views.fire),
    re_path(r"^v1/", views.no_route),
]

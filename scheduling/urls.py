from django.urls import path

from scheduling import preference_views, shift_views, views

app_name = "scheduling"

urlpatterns = [
    path("", views.run_list, name="runs"),
    path("shifts/", shift_views.shift_start, name="shift_start"),
    path("runs/<int:pk>/", views.run_detail, name="run"),
    path("runs/<int:pk>/cancel/", views.run_cancel, name="cancel"),
    path("wishes/", preference_views.wishes, name="wishes"),
    path("wishes/add/", preference_views.wish_add, name="wish_add"),
    path("wishes/<int:pk>/remove/", preference_views.wish_remove, name="wish_remove"),
    path("wishes/vacation/", preference_views.vacation_request, name="vacation_request"),
    path("runs/<int:pk>/publish/", views.run_publish, name="publish"),
    path("runs/<int:pk>/discard/", views.run_discard, name="discard"),
]

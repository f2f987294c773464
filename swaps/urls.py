from django.urls import path

from swaps import shift_views, views

app_name = "swaps"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("new/", views.new, name="new"),
    path("marketplace/", views.marketplace, name="marketplace"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/confirm/", views.confirm, name="confirm"),
    path("<int:pk>/accept/", views.accept, name="accept"),
    path("<int:pk>/decline/", views.decline, name="decline"),
    path("<int:pk>/cancel/", views.cancel, name="cancel"),
    path("shifts/", shift_views.shift_trades, name="shift_trades"),
    path("shifts/<int:shift_id>/trade/", shift_views.shift_trade_builder, name="shift_builder"),
    path(
        "shifts/<int:shift_id>/trade/confirm/",
        shift_views.shift_trade_confirm,
        name="shift_confirm",
    ),
    path("shifts/pool/<int:pk>/take/", shift_views.shift_take, name="shift_take"),
    path("sick-calls/", shift_views.sick_calls, name="sick_calls"),
    path("sick-calls/<int:pk>/", shift_views.sick_call, name="sick_call"),
]

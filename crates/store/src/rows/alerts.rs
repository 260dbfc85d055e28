//! Alert rules, their firings and the notification outbox.

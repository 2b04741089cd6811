"""The Gradio web app: ui.app assembles one module per tab (generate, history, compare,
analysis) from ui.shared's widgets; what they show is written by playground.present.
Nothing else imports this package."""

"""Every word a patient or link worker sees, as Jinja2 templates under <lang>/,
with button labels in <lang>/buttons.yaml. Package data: read by bot.messages."""

"""The reporter's conversation: the questions' path, the pure step, and the service around it.

The step (:mod:`bot.intake.step`) is pure and knows no messenger; the service
(:mod:`bot.intake.service`) carries out its effects: sealing, storing, submitting.
"""

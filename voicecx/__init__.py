"""voicecx: how empathic did the agent sound? (skeleton; filled in below)"""
__version__ = "0.1.0"

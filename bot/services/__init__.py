"""Use cases shared by every way in: chat, console, scheduler."""

"""Intake: new sessions become work chains (what each needs, which steps run by themselves, its priority)."""

"""`make bench`: the operator against the direct-apply lower bound and Helm, side by side."""

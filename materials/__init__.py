"""Remote acceptance materials: each matter's checklist, scans uploaded at a service point into a
content-addressed store and reviewed by the remote clerk, and the hand-over of originals."""

"""The live pages: hall call display, window screen, review tablet, kiosk, resident status page and
staff console. Plain HTML/CSS/JS served by the server itself (no build step, nothing from a CDN)."""

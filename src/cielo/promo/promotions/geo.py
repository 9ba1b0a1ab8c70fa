"""Great-circle distance and the bounding boxes that let an index find the candidates.

A search first asks the index for establishments inside boxes that surely contain the circle
(R*Tree on SQLite, a B-tree on (latitude, longitude) on PostgreSQL), then keeps those whose
exact haversine distance is within the radius. Boxes split at the antimeridian and widen to
every longitude when the circle reaches a pole."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius
METERS_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
_SLACK = 1.0001  # boxes a hair larger than the circle: float rounding never drops a point


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlmb = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def boxes(lat: float, lon: float, radius_m: float) -> list[tuple[float, float, float, float]]:
    """(min_lat, max_lat, min_lon, max_lon) boxes covering the circle."""
    dlat = radius_m / METERS_PER_DEGREE * _SLACK
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90 or max_lat >= 90:
        return [(max(min_lat, -90.0), min(max_lat, 90.0), -180.0, 180.0)]
    # The widest longitude span of the circle is at the latitude nearest the pole.
    cos_lat = math.cos(math.radians(max(abs(min_lat), abs(max_lat))))
    dlon = radius_m / (METERS_PER_DEGREE * cos_lat) * _SLACK if cos_lat > 1e-12 else 360.0
    if dlon >= 180:
        return [(min_lat, max_lat, -180.0, 180.0)]
    west, east = lon - dlon, lon + dlon
    if west < -180:
        return [(min_lat, max_lat, west + 360, 180.0), (min_lat, max_lat, -180.0, east)]
    if east > 180:
        return [(min_lat, max_lat, west, 180.0), (min_lat, max_lat, -180.0, east - 360)]
    return [(min_lat, max_lat, west, east)]

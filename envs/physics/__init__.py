"""The physics of the world, independent of any scenario file or episode: time, orbits
(sgp4, validated against skyfield), WGS84 geodesy (pyproj), the region's metric grid, sensor
geometry, contact windows, link budgets and clouds. Functions take numbers and arrays in SI
units (names carry them: ``altitude_m``, ``t_s``, ``off_nadir_deg``)."""

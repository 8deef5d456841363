"""What makes an :class:`sagsim.fusion.observation.Observation`: the seeded ground-truth
scene (:mod:`.scene`), the sensor model that images it (:mod:`.sensor_model`), acquisition
streams without the environment (:mod:`.acquisitions`) and misbehaving sources
(:mod:`.attacks`)."""

"""The one boundary with Meta: Graph URLs, calls, error mapping and signatures live here and nowhere else."""

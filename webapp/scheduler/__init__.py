"""The scheduler: periodic jobs run by exactly one process, whatever the number of workers and machines.

Every process runs a small loop; only the holder of the lease (a row with an expiry, renewed each tick) runs the
jobs that are due, so a dead holder is replaced within one lease time. Due times live in the database, so a
restart neither skips nor repeats a job.
"""

"""Execution: dispatching jobs to capability queues and running one attempt, step by step."""

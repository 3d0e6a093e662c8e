"""The deletion guard's pure decisions: whether each candidate tag may go (decision), what a cleanup policy
picks (policy), and what the clusters reference (references). Gathering the facts and carrying out the
verdicts belong to the stages (conveyor.stages.knowledge, conveyor.stages.deleting)."""

"""The work of each task, taking only the narrow values it needs: the entry modules build, test, deploy,
status, rollback and cleanup (none imports another), and what they share: rollouts (waiting as kubectl
does), knowledge (the deletion guard's facts), deleting (asking the guard, deleting what it permits),
releases (promotion), junit (reading test reports)."""

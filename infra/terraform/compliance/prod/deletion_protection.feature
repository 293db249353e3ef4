Feature: Production data cannot be deleted by accident
  In order to survive a mistaken destroy or console click
  As the platform team
  The prod database has deletion protection, backups and a final snapshot

  Scenario: The prod database has deletion protection
    Given I have aws_db_instance defined
    Then it must contain deletion_protection
    And its value must be true

  Scenario: The prod database keeps automated backups
    Given I have aws_db_instance defined
    Then it must contain backup_retention_period
    And its value must be greater and equal than 7

  Scenario: The prod database takes a final snapshot
    Given I have aws_db_instance defined
    Then it must contain skip_final_snapshot
    And its value must be false

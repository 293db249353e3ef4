Feature: Every resource is tagged
  In order to know who owns what and what it costs
  As the platform team
  Every taggable resource carries the Project, Environment, Owner and ManagedBy tags

  Scenario Outline: Taggable resources carry the standard tags
    Given I have resource that supports tags_all defined
    Then it must contain tags_all
    And it must contain <tag>
    And its value must match the "<pattern>" regex

    Examples:
      | tag       | pattern           |
      | Project   | ^[a-z][a-z0-9-]+$ |
      | Owner     | .+                |
      | ManagedBy | ^terraform$       |

  Scenario: The Environment tag names a known environment
    Given I have resource that supports tags_all defined
    Then it must contain tags_all
    And it must contain Environment
    And its value must match the "^(dev|staging|prod)$" regex

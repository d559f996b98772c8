"""The ``crowdcensus`` command groups. Each module here adds its commands to the apps in
:mod:`crowdcensus.commands.apps`; :mod:`crowdcensus.cli` imports them all."""
